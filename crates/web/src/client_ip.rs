//! The client's address behind trusted reverse proxies.
//!
//! Only when the TCP peer is in `trusted_proxies` are `Forwarded` (RFC 7239)
//! or `X-Forwarded-For` read: the chain is walked from the right, skipping
//! trusted hops, and the rightmost untrusted address is the client (entries
//! further left were written by the client and can be anything). From any
//! other peer the headers are ignored: the client is the peer.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::WebState;

/// The address a request is attributed to (audit, limits, emails, sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Resolves the client address of `peer` given the request headers.
///
/// `Forwarded` wins over `X-Forwarded-For` when both are present. If every
/// hop is trusted, the leftmost one is the client. An entry that is not an
/// address (`unknown`, obfuscated, garbage) stops the walk: the last trusted
/// hop before it is the answer.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let chain = if headers.contains_key(FORWARDED) {
        forwarded_chain(headers)
    } else if headers.contains_key(X_FORWARDED_FOR) {
        x_forwarded_for_chain(headers)
    } else {
        return peer;
    };
    let mut client = peer;
    for hop in chain.into_iter().rev() {
        let Some(hop) = hop else { break };
        client = hop;
        if !is_trusted(hop, trusted) {
            break;
        }
    }
    client
}

const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// The `for=` addresses of every `Forwarded` element, left to right; `None`
/// for an element whose `for=` is missing or is not an address.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut chain = Vec::new();
    for value in headers.get_all(FORWARDED) {
        let Ok(value) = value.to_str() else {
            chain.push(None);
            continue;
        };
        for element in value.split(',') {
            let element = element.trim();
            if element.is_empty() {
                continue;
            }
            let node = element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then(|| value.trim())
            });
            chain.push(node.and_then(|node| parse_node(node.trim_matches('"'))));
        }
    }
    chain
}

/// RFC 7239 node: `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]`, `[2001:db8::1]:443`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        return addr
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|a| canonical(IpAddr::V6(a)));
    }
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    node.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

/// The addresses of every `X-Forwarded-For` header, left to right.
fn x_forwarded_for_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut chain = Vec::new();
    for value in headers.get_all(X_FORWARDED_FOR) {
        let Ok(value) = value.to_str() else {
            chain.push(None);
            continue;
        };
        for entry in value.split(',') {
            let entry = entry.trim();
            if !entry.is_empty() {
                chain.push(parse_node(entry));
            }
        }
    }
    chain
}

/// Middleware (outside the request-id layer): an `x-request-id` is kept only
/// from a trusted proxy, and only when short and plain (letters, digits,
/// `-`, `_`, `.`); otherwise Varco makes its own, so a client cannot choose
/// the id that its requests carry in the log.
pub async fn untrusted_request_id(State(state): State<WebState>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| canonical(c.0.ip()));
    let keep = peer.is_some_and(|ip| is_trusted(ip, &state.config.trusted_proxies))
        && request
            .headers()
            .get(X_REQUEST_ID)
            .is_some_and(|v| plain_request_id(v.as_bytes()));
    if !keep {
        request.headers_mut().remove(X_REQUEST_ID);
    }
    next.run(request).await
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn plain_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Middleware: stores the [`ClientIp`] of the request for the extractors.
pub async fn layer(State(state): State<WebState>, mut request: Request, next: Next) -> Response {
    if let Some(peer) = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()) {
        let ip = resolve(peer, request.headers(), &state.config.trusted_proxies);
        request.extensions_mut().insert(ClientIp(ip));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let trusted = nets(&["10.0.0.0/8"]);
        let headers = h(&[("x-forwarded-for", "192.0.2.9"), ("forwarded", "for=192.0.2.9")]);
        assert_eq!(resolve(ip("198.51.100.1"), &headers, &trusted), ip("198.51.100.1"));
        assert_eq!(resolve(ip("198.51.100.1"), &headers, &[]), ip("198.51.100.1"));
    }

    #[test]
    fn x_forwarded_for_takes_the_rightmost_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // The client wrote "1.2.3.4" itself; nginx appended the real address.
        let headers = h(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7, 10.1.1.1")]);
        assert_eq!(resolve(ip("127.0.0.1"), &headers, &trusted), ip("203.0.113.7"));
        // Several headers are one list.
        let headers = h(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "203.0.113.8")]);
        assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("203.0.113.8"));
        // No header from a trusted peer: the peer.
        assert_eq!(resolve(ip("10.0.0.1"), &h(&[]), &trusted), ip("10.0.0.1"));
    }

    #[test]
    fn every_hop_trusted_gives_the_leftmost() {
        let trusted = nets(&["10.0.0.0/8"]);
        let headers = h(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("10.9.9.9"));
    }

    #[test]
    fn forwarded_with_ipv6_brackets_ports_and_quotes() {
        let trusted = nets(&["10.0.0.0/8"]);
        let headers = h(&[(
            "forwarded",
            r#"for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711";by=10.0.0.1, For=10.0.0.3"#,
        )]);
        assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("2001:db8:cafe::17"));
        let headers = h(&[("forwarded", r#"for="192.0.2.43:47011""#)]);
        assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("192.0.2.43"));
        let headers = h(&[("forwarded", r#"for="[2001:db8::1]""#)]);
        assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("2001:db8::1"));
        // Forwarded wins over X-Forwarded-For.
        let headers = h(&[("forwarded", "for=192.0.2.1"), ("x-forwarded-for", "192.0.2.2")]);
        assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("192.0.2.1"));
    }

    #[test]
    fn garbage_left_of_the_client_is_ignored() {
        let trusted = nets(&["10.0.0.0/8"]);
        let headers = h(&[("x-forwarded-for", "bogus, 203.0.113.7")]);
        assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("203.0.113.7"));
        let headers = h(&[("forwarded", "for=unknown, for=203.0.113.7")]);
        assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("203.0.113.7"));
        // Garbage right of a trusted hop: that hop is the last one known.
        let headers = h(&[("x-forwarded-for", "203.0.113.7, bogus, 10.0.0.5")]);
        assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("10.0.0.5"));
    }

    #[test]
    fn garbage_falls_back_to_the_peer() {
        let trusted = nets(&["10.0.0.0/8"]);
        for garbage in [
            "not-an-ip",
            "192.0.2.1, ,bogus",
            "999.1.1.1",
            "[2001:db8::1",
            "[2001:db8::1]x",
        ] {
            let headers = h(&[("x-forwarded-for", garbage)]);
            assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("10.0.0.1"), "{garbage}");
        }
        for garbage in ["for=unknown", "for=_hidden", "proto=https", "for=\"[::1\"", ";;;"] {
            let headers = h(&[("forwarded", garbage)]);
            assert_eq!(resolve(ip("10.0.0.1"), &headers, &trusted), ip("10.0.0.1"), "{garbage}");
        }
    }

    #[test]
    fn spoofed_leftmost_entries_do_not_matter() {
        let trusted = nets(&["127.0.0.1/32"]);
        let headers = h(&[("x-forwarded-for", "127.0.0.1, 10.0.0.1, 198.51.100.4")]);
        assert_eq!(resolve(ip("127.0.0.1"), &headers, &trusted), ip("198.51.100.4"));
    }

    #[test]
    fn only_plain_request_ids_are_kept() {
        assert!(plain_request_id(b"4f1c2a9e-77b0.x_1"));
        assert!(!plain_request_id(b""));
        assert!(!plain_request_id(&[b'a'; 65]));
        assert!(!plain_request_id(b"a b"));
        assert!(!plain_request_id(b"id\x1b[31m"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let trusted = nets(&["127.0.0.1/32"]);
        let headers = h(&[("x-forwarded-for", "::ffff:203.0.113.5")]);
        assert_eq!(resolve(ip("::ffff:127.0.0.1"), &headers, &trusted), ip("203.0.113.5"));
    }
}
