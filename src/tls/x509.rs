//! Just enough X.509 (RFC 5280 §4.1) to name a server certificate: subject, issuer and the DNS
//! names and addresses of its subjectAltName. An unexpected issuer is how a TLS-intercepting proxy
//! shows itself. A minimal DER walker: every length is checked against the bytes present, and a
//! certificate that does not parse gives `None`, never a panic.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The names in a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateNames {
    /// Subject distinguished name, e.g. `CN=alpn.test, O=Example`.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// subjectAltName entries (`DNS:…`, `IP:…`).
    pub san: Vec<String>,
}

/// A DER element: tag and contents.
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads one element from the front of `data`, returning it and the rest.
fn read(data: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    let body = rest.get(..len)?;
    Some((Tlv { tag, body }, &rest[len..]))
}

/// All elements inside a constructed element's body.
fn children(mut data: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (tlv, rest) = read(data)?;
        out.push(tlv);
        data = rest;
    }
    Some(out)
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_C: &[u8] = &[0x55, 0x04, 0x06];
const OID_L: &[u8] = &[0x55, 0x04, 0x07];
const OID_ST: &[u8] = &[0x55, 0x04, 0x08];
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];
const OID_OU: &[u8] = &[0x55, 0x04, 0x0b];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// A Name (RDNSequence) as `KEY=value, …` in encoded order.
fn name(seq: &Tlv<'_>) -> Option<String> {
    let mut parts = Vec::new();
    for rdn in children(seq.body)? {
        for atv in children(rdn.body)? {
            let fields = children(atv.body)?;
            let (oid, value) = (fields.first()?, fields.get(1)?);
            let key = match oid.body {
                OID_CN => "CN",
                OID_C => "C",
                OID_L => "L",
                OID_ST => "ST",
                OID_O => "O",
                OID_OU => "OU",
                _ => continue,
            };
            parts.push(format!("{key}={}", super::alpn::escape_bytes(value.body)));
        }
    }
    Some(parts.join(", "))
}

/// Parses the subject, issuer and subjectAltName of a DER certificate.
pub fn certificate_names(der: &[u8]) -> Option<CertificateNames> {
    let (cert, _) = read(der)?;
    let tbs_der = children(cert.body)?;
    let tbs = children(tbs_der.first()?.body)?;
    // An explicit version [0] is optional; skip it when present.
    let fields: Vec<&Tlv<'_>> = tbs.iter().skip_while(|t| t.tag == 0xa0).collect();
    // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, …
    let issuer = name(fields.get(2)?)?;
    let subject = name(fields.get(4)?)?;
    let mut san = Vec::new();
    if let Some(exts) = fields.iter().find(|t| t.tag == 0xa3) {
        let (seq, _) = read(exts.body)?;
        for ext in children(seq.body)? {
            let parts = children(ext.body)?;
            if parts.first().map(|p| p.body) != Some(OID_SAN) {
                continue;
            }
            let value = parts.last()?;
            let (names, _) = read(value.body)?;
            for general in children(names.body)? {
                match general.tag {
                    0x82 => san.push(format!("DNS:{}", super::alpn::escape_bytes(general.body))),
                    0x87 => match general.body.len() {
                        4 => {
                            let b: [u8; 4] = general.body.try_into().ok()?;
                            san.push(format!("IP:{}", Ipv4Addr::from(b)));
                        }
                        16 => {
                            let b: [u8; 16] = general.body.try_into().ok()?;
                            san.push(format!("IP:{}", Ipv6Addr::from(b)));
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
    }
    Some(CertificateNames {
        subject,
        issuer,
        san,
    })
}

/// The first certificate of a TLS ≤ 1.2 Certificate message body (RFC 5246 §7.4.2).
pub fn first_certificate_tls12(body: &[u8]) -> Option<&[u8]> {
    let list = body.get(3..)?;
    let len = (usize::from(*list.first()?) << 16)
        | (usize::from(*list.get(1)?) << 8)
        | usize::from(*list.get(2)?);
    list.get(3..3 + len)
}

/// The first certificate of a TLS 1.3 Certificate message body (RFC 8446 §4.4.2).
pub fn first_certificate(body: &[u8]) -> Option<&[u8]> {
    let (&ctx_len, rest) = body.split_first()?;
    let rest = rest.get(usize::from(ctx_len)..)?;
    let list = rest.get(3..)?;
    let len = (usize::from(*list.first()?) << 16)
        | (usize::from(*list.get(1)?) << 8)
        | usize::from(*list.get(2)?);
    list.get(3..3 + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a DER element.
    fn der(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if body.len() < 0x80 {
            v.push(body.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    fn rdn(oid: &[u8], value: &str) -> Vec<u8> {
        let atv = [der(0x06, oid), der(0x0c, value.as_bytes())].concat();
        der(0x31, &der(0x30, &atv))
    }

    #[test]
    fn reads_names_and_san() {
        let issuer = der(
            0x30,
            &[rdn(OID_C, "US"), rdn(OID_O, "Corp Proxy CA")].concat(),
        );
        let subject = der(0x30, &rdn(OID_CN, "alpn.test"));
        let general = [der(0x82, b"alpn.test"), der(0x87, &[127, 0, 0, 1])].concat();
        let san_ext = der(
            0x30,
            &[der(0x06, OID_SAN), der(0x04, &der(0x30, &general))].concat(),
        );
        let exts = der(0xa3, &der(0x30, &san_ext));
        let tbs = der(
            0x30,
            &[
                der(0xa0, &der(0x02, &[2])),
                der(0x02, &[1]),
                der(0x30, &[]),
                issuer,
                der(0x30, &[]),
                subject,
                der(0x30, &[]),
                exts,
            ]
            .concat(),
        );
        let cert = der(0x30, &[tbs, der(0x30, &[]), der(0x03, &[0])].concat());
        let names = certificate_names(&cert).unwrap();
        assert_eq!(names.subject, "CN=alpn.test");
        assert_eq!(names.issuer, "C=US, O=Corp Proxy CA");
        assert_eq!(names.san, ["DNS:alpn.test", "IP:127.0.0.1"]);
        for cut in 0..cert.len() {
            assert!(certificate_names(&cert[..cut]).is_none() || cut == cert.len());
        }
    }
}
