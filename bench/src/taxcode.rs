//! Valid, distinct Italian tax codes (codici fiscali) for generated people.
//! The check character is the domain's ([`TaxCode::complete`]).

use rand::Rng;
use varco_domain::TaxCode;

const MONTH_LETTERS: &[u8; 12] = b"ABCDEHLMPRST";

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
    let first15 = String::from_utf8(code).expect("ASCII");
    TaxCode::complete(&first15)
        .expect("the generated characters start a valid tax code")
        .as_str()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn generated_codes_are_well_formed_and_distinct() {
        let mut rng = StdRng::seed_from_u64(1);
        let codes: std::collections::HashSet<String> = (0..1000).map(|i| tax_code(i * 7919, &mut rng)).collect();
        assert_eq!(codes.len(), 1000);
        for code in &codes {
            assert_eq!(code.len(), 16);
            assert_eq!(TaxCode::parse(code).map(|c| c.as_str().to_owned()), Ok(code.clone()));
        }
    }
}
