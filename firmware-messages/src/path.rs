//! BIP-32 derivation paths: text form (`m/84'/0'/0'/0/0`) and wire form (count byte, then
//! 4-byte big-endian indices).

use crate::codec::{DecodeError, Reader};
use std::fmt;
use std::str::FromStr;

/// The hardened-derivation bit.
pub const HARDENED: u32 = 0x8000_0000;

/// A BIP-32 derivation path as a list of child indices (hardened ones have the top bit set).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Bip32Path(pub Vec<u32>);

impl Bip32Path {
    /// The indices.
    pub fn indices(&self) -> &[u32] {
        &self.0
    }

    /// Appends the wire form (count byte, BE indices).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(self.0.len() as u8);
        for i in &self.0 {
            out.extend_from_slice(&i.to_be_bytes());
        }
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 4 * self.0.len());
        self.write(&mut out);
        out
    }

    /// Reads the wire form, refusing more than `max_depth` steps.
    pub fn read(r: &mut Reader<'_>, max_depth: usize) -> Result<Self, DecodeError> {
        let n = r.u8("path length")? as usize;
        if n > max_depth {
            return Err(DecodeError::invalid(
                "path length",
                format!("{n} steps, at most {max_depth}"),
            ));
        }
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(r.u32_be("path step")?);
        }
        Ok(Bip32Path(v))
    }
}

impl fmt::Display for Bip32Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m")?;
        for i in &self.0 {
            if i & HARDENED != 0 {
                write!(f, "/{}'", i & !HARDENED)?;
            } else {
                write!(f, "/{i}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for Bip32Path {
    type Err = DecodeError;

    /// Parses `m/84'/0'/0'/0/0`; `h` or `H` also mark hardened steps; the `m/` is optional.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let rest = s
            .strip_prefix("m/")
            .or_else(|| if s == "m" { Some("") } else { None })
            .unwrap_or(s);
        if rest.is_empty() {
            return Ok(Bip32Path(Vec::new()));
        }
        let mut v = Vec::new();
        for step in rest.split('/') {
            let (num, hard) = match step.strip_suffix(['\'', 'h', 'H']) {
                Some(n) => (n, true),
                None => (step, false),
            };
            if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DecodeError::invalid("path", format!("bad step {step:?}")));
            }
            let n: u32 = num
                .parse()
                .map_err(|_| DecodeError::invalid("path", format!("bad step {step:?}")))?;
            if n >= HARDENED {
                return Err(DecodeError::invalid("path", format!("step {n} too large")));
            }
            v.push(if hard { n | HARDENED } else { n });
        }
        Ok(Bip32Path(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden() {
        let p: Bip32Path = "m/84'/0'/0'/0/5".parse().unwrap();
        assert_eq!(
            hex::encode(p.encode()),
            "058000005480000000800000000000000000000005"
        );
        assert_eq!(p.to_string(), "m/84'/0'/0'/0/5");
        assert_eq!(
            "m/44h/60H/0".parse::<Bip32Path>().unwrap().to_string(),
            "m/44'/60'/0"
        );
        assert!("m/x".parse::<Bip32Path>().is_err());
        assert!("m/2147483648".parse::<Bip32Path>().is_err());
        assert!(Bip32Path::read(&mut Reader::new(&[9]), 8).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(v in proptest::collection::vec(any::<u32>(), 0..10)) {
            let p = Bip32Path(v);
            prop_assert_eq!(p.to_string().parse::<Bip32Path>().unwrap(), p.clone());
            let enc = p.encode();
            prop_assert_eq!(Bip32Path::read(&mut Reader::new(&enc), 10).unwrap(), p);
        }

        #[test]
        fn garbage(s in ".{0,40}", b in proptest::collection::vec(any::<u8>(), 0..50)) {
            let _ = s.parse::<Bip32Path>();
            let _ = Bip32Path::read(&mut Reader::new(&b), 10);
        }
    }
}
