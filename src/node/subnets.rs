//! The inner cluster's pod and service subnets: of the IP family the kind
//! config asks for (`networking.ipFamily`: ipv4, the default; ipv6; dual),
//! clear of the networks around the node, and checked as kind checks a
//! user's own (one CIDR of the family, or one of each for dual) before
//! anything is made.

use std::net::IpAddr;

/// kind's `networking.ipFamily`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ipv4,
    Ipv6,
    Dual,
}

impl Family {
    /// The field's value as kind reads it (None: not set, ipv4).
    pub fn parse(value: Option<&str>) -> Result<Family, String> {
        match value {
            None | Some("ipv4") => Ok(Family::Ipv4),
            Some("ipv6") => Ok(Family::Ipv6),
            Some("dual") => Ok(Family::Dual),
            Some(other) => Err(format!(
                "networking.ipFamily is {other:?}: kind takes ipv4, ipv6 or dual"
            )),
        }
    }
}

/// Inner IPv4 pod/service subnet pairs, tried in order; the first pair that
/// overlaps no network the outer engine knows wins (the 2020 setup used
/// 10.245/16 and 10.246/16 to stay clear of the outer cluster).
const V4_CANDIDATES: [(&str, &str); 4] = [
    ("10.245.0.0/16", "10.246.0.0/16"),
    ("10.247.0.0/16", "10.248.0.0/16"),
    ("172.30.0.0/16", "172.31.0.0/16"),
    ("192.168.240.0/21", "192.168.248.0/21"),
];

/// The same for IPv6 (kind's own are fd00:10:244::/56 and fd00:10:96::/112;
/// kip's sit beside them, as its IPv4 ones do).
const V6_CANDIDATES: [(&str, &str); 3] = [
    ("fd00:10:245::/56", "fd00:10:246::/112"),
    ("fd00:10:247::/56", "fd00:10:248::/112"),
    ("fd00:4b1f:245::/56", "fd00:4b1f:246::/112"),
];

/// (podSubnet, serviceSubnet) of `family`, clear of `taken`, as kind writes
/// them (`V4,V6` for dual).
pub fn choose(family: Family, taken: &[String]) -> (String, String) {
    let taken: Vec<Cidr> = taken.iter().filter_map(|c| Cidr::parse(c)).collect();
    let pick = |candidates: &[(&'static str, &'static str)]| {
        let clear = |text: &str| {
            let ours = Cidr::parse(text).expect("candidates are valid");
            !taken.iter().any(|t| t.overlaps(&ours))
        };
        candidates
            .iter()
            .copied()
            .find(|(pod, svc)| clear(pod) && clear(svc))
            .unwrap_or(candidates[0])
    };
    match family {
        Family::Ipv4 => {
            let (pod, svc) = pick(&V4_CANDIDATES);
            (pod.into(), svc.into())
        }
        Family::Ipv6 => {
            let (pod, svc) = pick(&V6_CANDIDATES);
            (pod.into(), svc.into())
        }
        Family::Dual => {
            let (pod4, svc4) = pick(&V4_CANDIDATES);
            let (pod6, svc6) = pick(&V6_CANDIDATES);
            (format!("{pod4},{pod6}"), format!("{svc4},{svc6}"))
        }
    }
}

/// A user's `networking.{field}` checked as kind checks it for `family`:
/// the error names the field and what kind expects.
pub fn check(field: &str, value: &str, family: Family) -> Result<(), String> {
    let mut cidrs = Vec::new();
    for text in value.split(',') {
        let cidr = Cidr::parse(text.trim()).ok_or_else(|| {
            format!("networking.{field} {text:?} is not a CIDR (e.g. 10.96.0.0/16)")
        })?;
        cidrs.push(cidr);
    }
    let v6 = cidrs.iter().filter(|c| c.is_v6()).count();
    let v4 = cidrs.len() - v6;
    let fits = match family {
        Family::Ipv4 => (v4, v6) == (1, 0),
        Family::Ipv6 => (v4, v6) == (0, 1),
        Family::Dual => (v4, v6) == (1, 1) || cidrs.len() == 1,
    };
    if fits {
        return Ok(());
    }
    let wanted = match family {
        Family::Ipv4 => "one IPv4 CIDR (networking.ipFamily is ipv4, kind's default)",
        Family::Ipv6 => "one IPv6 CIDR (networking.ipFamily is ipv6)",
        Family::Dual => {
            "one CIDR, or an IPv4 and an IPv6 one, comma-separated (networking.ipFamily is dual)"
        }
    };
    Err(format!(
        "networking.{field} is {value:?}: kind expects {wanted}; change it, or remove it and kip picks one"
    ))
}

/// A CIDR of either family, as an address and a prefix mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cidr {
    V4(u32, u32),
    V6(u128, u128),
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (addr, len) = text.split_once('/')?;
        let len: u32 = len.parse().ok()?;
        match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) if len <= 32 => {
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                Some(Cidr::V4(u32::from(a) & mask, mask))
            }
            IpAddr::V6(a) if len <= 128 => {
                let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                Some(Cidr::V6(u128::from(a) & mask, mask))
            }
            _ => None,
        }
    }

    fn is_v6(&self) -> bool {
        matches!(self, Cidr::V6(..))
    }

    fn overlaps(&self, other: &Cidr) -> bool {
        match (self, other) {
            (Cidr::V4(a, am), Cidr::V4(b, bm)) => a & (am & bm) == b & (am & bm),
            (Cidr::V6(a, am), Cidr::V6(b, bm)) => a & (am & bm) == b & (am & bm),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_of_the_family_asked_for_avoid_the_outer_networks() {
        let taken = ["172.17.0.0/16".to_string(), "10.244.0.0/14".into()];
        assert_eq!(
            choose(Family::Ipv4, &taken),
            ("172.30.0.0/16".into(), "172.31.0.0/16".into())
        );
        assert_eq!(
            choose(Family::Ipv4, &["not a cidr".into()]).0,
            "10.245.0.0/16"
        );
        let taken6 = ["fd00:10:240::/44".to_string()];
        assert_eq!(
            choose(Family::Ipv6, &taken6),
            ("fd00:4b1f:245::/56".into(), "fd00:4b1f:246::/112".into())
        );
        assert_eq!(
            choose(Family::Dual, &[]),
            (
                "10.245.0.0/16,fd00:10:245::/56".into(),
                "10.246.0.0/16,fd00:10:246::/112".into()
            )
        );
    }

    #[test]
    fn every_choice_passes_the_check_kind_makes() {
        for family in [Family::Ipv4, Family::Ipv6, Family::Dual] {
            let (pod, svc) = choose(family, &[]);
            check("podSubnet", &pod, family).unwrap();
            check("serviceSubnet", &svc, family).unwrap();
        }
    }

    #[test]
    fn a_subnet_of_the_wrong_family_names_the_field() {
        let err = check("podSubnet", "10.9.0.0/16", Family::Ipv6).unwrap_err();
        assert!(
            err.starts_with("networking.podSubnet is \"10.9.0.0/16\""),
            "{err}"
        );
        assert!(err.contains("one IPv6 CIDR"), "{err}");
        let err = check("serviceSubnet", "fd00::/112", Family::Ipv4).unwrap_err();
        assert!(err.contains("one IPv4 CIDR"), "{err}");
        let err = check("podSubnet", "10.1.0.0/16,10.2.0.0/16", Family::Dual).unwrap_err();
        assert!(err.contains("an IPv4 and an IPv6"), "{err}");
        let err = check("podSubnet", "10.1.0.0", Family::Ipv4).unwrap_err();
        assert!(err.contains("is not a CIDR"), "{err}");
        assert!(Family::parse(Some("IPv6"))
            .unwrap_err()
            .contains("ipv4, ipv6 or dual"));
    }
}
