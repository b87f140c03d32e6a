//! When a certificate expires: its `notAfter`, read from the DER of a PEM
//! certificate with no X.509 library (kip needs this one field: the
//! certificates kubeadm issues expire one year after `kind create`).

use base64::Engine;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `notAfter` of the first certificate in `pem`.
pub fn not_after(pem: &str) -> Option<SystemTime> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version?,
    // serial, signature, issuer, validity SEQUENCE { notBefore, notAfter } ...
    let (_, cert, _) = element(&der)?;
    let (_, mut tbs, _) = element(cert)?;
    let (tag, _, rest) = element(tbs)?;
    if tag == 0xa0 {
        tbs = rest;
    }
    for _ in 0..3 {
        tbs = element(tbs)?.2; // serial, signature, issuer
    }
    let (_, validity, _) = element(tbs)?;
    let (_, _, after) = element(validity)?;
    let (tag, time, _) = element(after)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

/// One DER element: its tag, contents and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes.iter().fold(0, |n, b| (n << 8) | usize::from(*b))
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// UTCTime (0x17, YYMMDDHHMMSSZ) or GeneralizedTime (0x18, YYYYMMDDHHMMSSZ).
fn parse_time(tag: u8, text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = text.get(..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        0x18 => (text.get(..4)?.parse().ok()?, &text[4..]),
        _ => return None,
    };
    let field = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate made by `openssl req -x509 -days 1 -subj /CN=kip-test`
    /// whose notAfter `openssl x509 -enddate` prints as
    /// "Dec  6 08:39:45 2026 GMT".
    const PEM: &str = include_str!("test-cert.pem");

    #[test]
    fn reads_the_not_after_openssl_prints() {
        let at = not_after(PEM).expect("a notAfter");
        assert_eq!(
            humantime::format_rfc3339_seconds(at).to_string(),
            "2026-12-06T08:39:45Z"
        );
    }

    #[test]
    fn a_generalized_time_and_the_epoch_arithmetic() {
        let t = parse_time(0x18, "20500301000000Z").unwrap();
        assert_eq!(
            humantime::format_rfc3339_seconds(t).to_string(),
            "2050-03-01T00:00:00Z"
        );
        let t = parse_time(0x17, "700101000001Z").unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1));
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(not_after("not a certificate"), None);
        assert_eq!(
            not_after("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
            None
        );
    }
}
