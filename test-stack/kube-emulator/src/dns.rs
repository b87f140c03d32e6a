//! Cluster DNS for pods with `dnsPolicy: ClusterFirst`: a small UDP server
//! on the pod network's gateway that answers `SERVICE.NAMESPACE.svc.cluster.local`
//! (and nothing else: NXDOMAIN). There is no service proxy here, so a
//! Service name resolves to the IP of a running pod its selector picks (as
//! a headless Service would); a Service with no such pod resolves to its
//! ClusterIP, which, as on a cluster without ready endpoints, connects
//! nowhere.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::watch;

pub const DOMAIN: &str = "cluster.local";

/// Answers a Service's name with an address.
pub trait Resolver: Send + Sync + 'static {
    fn service_address(&self, namespace: &str, service: &str) -> Option<Ipv4Addr>;
}

/// Serves until `stopped` changes.
pub async fn serve(
    socket: UdpSocket,
    resolver: Arc<dyn Resolver>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut buf = [0u8; 512];
    loop {
        let (n, peer): (usize, SocketAddr) = tokio::select! {
            got = socket.recv_from(&mut buf) => match got {
                Ok(got) => got,
                Err(_) => continue,
            },
            _ = stopped.changed() => return,
        };
        if let Some(reply) = answer(&buf[..n], resolver.as_ref()) {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

const TYPE_A: u16 = 1;
const CLASS_IN: u16 = 1;
const NXDOMAIN: u8 = 3;
const FORMERR: u8 = 1;

/// The reply to one query; None for what is not a query at all.
fn answer(query: &[u8], resolver: &dyn Resolver) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    let questions = u16::from_be_bytes([query[4], query[5]]);
    let parsed = (questions == 1).then(|| question(&query[12..])).flatten();
    let Some((name, qtype, qclass, qlen)) = parsed else {
        return Some(header(query, FORMERR, 0, 0));
    };
    let question_bytes = &query[12..12 + qlen];
    let found = service_of(&name).and_then(|(svc, ns)| resolver.service_address(&ns, &svc));
    let Some(ip) = found else {
        let mut reply = header(query, NXDOMAIN, 1, 0);
        reply.extend_from_slice(question_bytes);
        return Some(reply);
    };
    // The name exists: an A question gets the address, any other type an
    // empty answer (NOERROR), as a real server says "no AAAA record".
    let a = qtype == TYPE_A && qclass == CLASS_IN;
    let mut reply = header(query, 0, 1, u16::from(a));
    reply.extend_from_slice(question_bytes);
    if a {
        reply.extend_from_slice(&[0xc0, 12]); // the name, by pointer
        reply.extend_from_slice(&TYPE_A.to_be_bytes());
        reply.extend_from_slice(&CLASS_IN.to_be_bytes());
        reply.extend_from_slice(&5u32.to_be_bytes()); // TTL, seconds
        reply.extend_from_slice(&4u16.to_be_bytes());
        reply.extend_from_slice(&ip.octets());
    }
    Some(reply)
}

/// A reply header for `query`: same id, QR and AA set, RD echoed, RA set.
fn header(query: &[u8], rcode: u8, questions: u16, answers: u16) -> Vec<u8> {
    let mut h = Vec::with_capacity(512);
    h.extend_from_slice(&query[0..2]);
    h.push(0x84 | (query[2] & 0x01));
    h.push(0x80 | rcode);
    h.extend_from_slice(&questions.to_be_bytes());
    h.extend_from_slice(&answers.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    h
}

/// The question's name (lower case, no trailing dot), type, class and
/// length in bytes. Compression pointers never occur in a question.
fn question(bytes: &[u8]) -> Option<(String, u16, u16, usize)> {
    let mut labels = Vec::new();
    let mut i = 0;
    loop {
        let len = usize::from(*bytes.get(i)?);
        if len == 0 {
            i += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        let label = bytes.get(i + 1..i + 1 + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        i += 1 + len;
    }
    let fixed = bytes.get(i..i + 4)?;
    let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let qclass = u16::from_be_bytes([fixed[2], fixed[3]]);
    Some((labels.join("."), qtype, qclass, i + 4))
}

/// `SERVICE.NAMESPACE.svc.cluster.local` → (SERVICE, NAMESPACE).
fn service_of(name: &str) -> Option<(String, String)> {
    let rest = name.strip_suffix(&format!(".svc.{DOMAIN}"))?;
    let (svc, ns) = rest.split_once('.')?;
    (!ns.contains('.')).then(|| (svc.to_string(), ns.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct One;
    impl Resolver for One {
        fn service_address(&self, namespace: &str, service: &str) -> Option<Ipv4Addr> {
            (namespace == "ci" && service == "api").then_some(Ipv4Addr::new(10, 1, 2, 3))
        }
    }

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q
    }

    #[test]
    fn a_service_name_resolves_and_others_do_not() {
        let q = query("API.ci.svc.cluster.local", TYPE_A);
        let r = answer(&q, &One).unwrap();
        assert_eq!(&r[0..2], &[0xab, 0xcd]);
        assert_eq!(r[2], 0x85, "QR, AA, RD");
        assert_eq!(r[3] & 0x0f, 0, "NOERROR");
        assert_eq!(&r[6..8], &[0, 1], "one answer");
        assert_eq!(&r[r.len() - 4..], &[10, 1, 2, 3]);
        // AAAA of an existing name: no data, no error.
        let r = answer(&query("api.ci.svc.cluster.local", 28), &One).unwrap();
        assert_eq!((r[3] & 0x0f, &r[6..8]), (0, &[0u8, 0][..]));
        for name in [
            "api.other.svc.cluster.local",
            "api.ci.svc.cluster.local.ci.svc.cluster.local",
            "example.com",
        ] {
            let r = answer(&query(name, TYPE_A), &One).unwrap();
            assert_eq!(r[3] & 0x0f, NXDOMAIN, "{name}");
            assert_eq!(&r[12..], &query(name, TYPE_A)[12..], "question echoed");
        }
        assert_eq!(answer(&[0; 5], &One), None);
    }
}
