//! Valid, distinct Italian tax codes (codici fiscali) for generated people.

use rand::Rng;

const MONTH_LETTERS: &[u8; 12] = b"ABCDEHLMPRST";

/// Values of `0`-`9` / `A`-`Z` at odd (1st, 3rd, ..., 15th) positions.
const ODD_VALUES: [u32; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

fn value(c: u8, odd_position: bool) -> u32 {
    let index = if c.is_ascii_digit() { c - b'0' } else { c - b'A' } as usize;
    if odd_position { ODD_VALUES[index] } else { index as u32 }
}

/// The check character for the first fifteen characters.
pub fn check_character(first15: &[u8]) -> u8 {
    let sum: u32 = first15
        .iter()
        .enumerate()
        // 0-based index 0 is the 1st (odd) position.
        .map(|(i, &c)| value(c, i % 2 == 0))
        .sum();
    b'A' + (sum % 26) as u8
}

/// A valid tax code whose first six letters encode `index` (so codes for
/// distinct indexes below 26^6 are distinct); the rest comes from `rng`.
pub fn tax_code(index: u64, rng: &mut impl Rng) -> String {
    assert!(index < 26u64.pow(6), "index too large for a distinct tax code");
    let mut code = Vec::with_capacity(16);
    let mut rest = index;
    let mut letters = [b'A'; 6];
    for slot in letters.iter_mut().rev() {
        *slot = b'A' + (rest % 26) as u8;
        rest /= 26;
    }
    code.extend_from_slice(&letters);
    let year: u8 = rng.gen_range(0..100);
    code.extend_from_slice(format!("{year:02}").as_bytes());
    code.push(MONTH_LETTERS[rng.gen_range(0..12)]);
    let mut day: u8 = rng.gen_range(1..=28);
    if rng.gen_bool(0.5) {
        day += 40;
    }
    code.extend_from_slice(format!("{day:02}").as_bytes());
    code.push(b'A' + rng.gen_range(0..26u8));
    let place: u16 = rng.gen_range(0..1000);
    code.extend_from_slice(format!("{place:03}").as_bytes());
    let check = check_character(&code);
    code.push(check);
    String::from_utf8(code).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn known_codes_have_their_check_character() {
        for code in ["RSSMRA85T10A562S", "MRTMTT25D09F205Z", "BNZVCN32S10E573Z"] {
            assert_eq!(check_character(&code.as_bytes()[..15]), code.as_bytes()[15], "{code}");
        }
    }

    #[test]
    fn generated_codes_are_well_formed_and_distinct() {
        let mut rng = StdRng::seed_from_u64(1);
        let codes: std::collections::HashSet<String> = (0..1000).map(|i| tax_code(i * 7919, &mut rng)).collect();
        assert_eq!(codes.len(), 1000);
        for code in &codes {
            assert_eq!(code.len(), 16);
            assert_eq!(check_character(&code.as_bytes()[..15]), code.as_bytes()[15]);
        }
    }
}
