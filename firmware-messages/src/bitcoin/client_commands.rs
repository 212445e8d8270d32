//! Client commands of the interrupt loop: when the app answers status 0xE000, the data is a
//! request (first byte = code); the host answers with CONTINUE (CLA 0xF8, INS 0x01).

use super::merkle::Hash;
use super::{CLA_FRAMEWORK, INS_CONTINUE, PROTOCOL_VERSION};
use crate::apdu::Command;
use crate::codec::{write_varint, DecodeError, Reader};

/// YIELD code.
pub const YIELD: u8 = 0x10;
/// GET_PREIMAGE code.
pub const GET_PREIMAGE: u8 = 0x40;
/// GET_MERKLE_LEAF_PROOF code.
pub const GET_MERKLE_LEAF_PROOF: u8 = 0x41;
/// GET_MERKLE_LEAF_INDEX code.
pub const GET_MERKLE_LEAF_INDEX: u8 = 0x42;
/// GET_MORE_ELEMENTS code.
pub const GET_MORE_ELEMENTS: u8 = 0xA0;

/// A request from the device to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// Hand over a result (e.g. a PSBT signature); answer empty.
    Yield(Vec<u8>),
    /// Reveal the preimage of a sha256 hash.
    GetPreimage(Hash),
    /// Leaf hash and proof of leaf `index` in the tree with `root` and `size` leaves.
    GetMerkleLeafProof {
        /// Tree root.
        root: Hash,
        /// Tree size.
        size: u64,
        /// Leaf index.
        index: u64,
    },
    /// Index of the leaf with this hash in the tree with this root.
    GetMerkleLeafIndex {
        /// Tree root.
        root: Hash,
        /// Leaf hash.
        leaf_hash: Hash,
    },
    /// Return more of the queued elements.
    GetMoreElements,
}

impl ClientCommand {
    /// Wire form (the data of the 0xE000 response).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::Yield(d) => {
                out.push(YIELD);
                out.extend_from_slice(d);
            }
            Self::GetPreimage(h) => {
                out.extend_from_slice(&[GET_PREIMAGE, 0]);
                out.extend_from_slice(h);
            }
            Self::GetMerkleLeafProof { root, size, index } => {
                out.push(GET_MERKLE_LEAF_PROOF);
                out.extend_from_slice(root);
                write_varint(&mut out, *size);
                write_varint(&mut out, *index);
            }
            Self::GetMerkleLeafIndex { root, leaf_hash } => {
                out.push(GET_MERKLE_LEAF_INDEX);
                out.extend_from_slice(root);
                out.extend_from_slice(leaf_hash);
            }
            Self::GetMoreElements => out.push(GET_MORE_ELEMENTS),
        }
        out
    }

    /// Parses the data of a 0xE000 response.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let cmd = match r.u8("client command code")? {
            YIELD => return Ok(Self::Yield(r.rest().to_vec())),
            GET_PREIMAGE => {
                if r.u8("reserved")? != 0 {
                    return Err(DecodeError::invalid("reserved", "must be 0"));
                }
                Self::GetPreimage(r.array("hash")?)
            }
            GET_MERKLE_LEAF_PROOF => Self::GetMerkleLeafProof {
                root: r.array("root")?,
                size: r.varint("tree size")?,
                index: r.varint("leaf index")?,
            },
            GET_MERKLE_LEAF_INDEX => Self::GetMerkleLeafIndex {
                root: r.array("root")?,
                leaf_hash: r.array("leaf hash")?,
            },
            GET_MORE_ELEMENTS => Self::GetMoreElements,
            code => {
                return Err(DecodeError::invalid(
                    "client command code",
                    format!("unknown {code:#04x}"),
                ))
            }
        };
        r.finish()?;
        Ok(cmd)
    }
}

/// The CONTINUE APDU carrying an answer.
pub fn continue_command(answer: Vec<u8>) -> Command {
    Command::new(CLA_FRAMEWORK, INS_CONTINUE, 0, PROTOCOL_VERSION, answer)
}

/// Answer to GET_PREIMAGE: full length and the first bytes (rest via GET_MORE_ELEMENTS,
/// one byte per element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreimageAnswer {
    /// Full preimage length.
    pub length: u64,
    /// First bytes of the preimage.
    pub prefix: Vec<u8>,
}

impl PreimageAnswer {
    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_varint(&mut out, self.length);
        out.push(self.prefix.len() as u8);
        out.extend_from_slice(&self.prefix);
        out
    }

    /// Parses the answer.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let length = r.varint("preimage length")?;
        let prefix = r.u8_prefixed("preimage prefix")?.to_vec();
        r.finish()?;
        if prefix.len() as u64 > length {
            return Err(DecodeError::invalid(
                "preimage prefix",
                "longer than the preimage",
            ));
        }
        Ok(PreimageAnswer { length, prefix })
    }
}

/// Answer to GET_MERKLE_LEAF_PROOF: leaf hash, proof length and the first proof hashes
/// (rest via GET_MORE_ELEMENTS, 32 bytes per element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafProofAnswer {
    /// Leaf hash.
    pub leaf_hash: Hash,
    /// Full proof length (hashes).
    pub proof_len: u8,
    /// First hashes of the proof.
    pub proof: Vec<Hash>,
}

impl LeafProofAnswer {
    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.leaf_hash.to_vec();
        out.push(self.proof_len);
        out.push(self.proof.len() as u8);
        for h in &self.proof {
            out.extend_from_slice(h);
        }
        out
    }

    /// Parses the answer.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let leaf_hash = r.array("leaf hash")?;
        let proof_len = r.u8("proof length")?;
        let n = r.u8("proof count")?;
        if n > proof_len {
            return Err(DecodeError::invalid("proof count", "exceeds proof length"));
        }
        let proof = (0..n)
            .map(|_| r.array("proof hash"))
            .collect::<Result<_, _>>()?;
        r.finish()?;
        Ok(LeafProofAnswer {
            leaf_hash,
            proof_len,
            proof,
        })
    }
}

/// Answer to GET_MERKLE_LEAF_INDEX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafIndexAnswer {
    /// Whether the leaf exists.
    pub found: bool,
    /// Its index (0 if not found).
    pub index: u64,
}

impl LeafIndexAnswer {
    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.found as u8];
        write_varint(&mut out, self.index);
        out
    }

    /// Parses the answer.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let found = match r.u8("found")? {
            0 => false,
            1 => true,
            _ => return Err(DecodeError::invalid("found", "must be 0 or 1")),
        };
        let index = r.varint("leaf index")?;
        r.finish()?;
        Ok(LeafIndexAnswer { found, index })
    }
}

/// Answer to GET_MORE_ELEMENTS: n elements of the same size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoreElementsAnswer {
    /// Size of each element.
    pub element_size: u8,
    /// The elements.
    pub elements: Vec<Vec<u8>>,
}

impl MoreElementsAnswer {
    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.elements.len() as u8, self.element_size];
        for e in &self.elements {
            out.extend_from_slice(e);
        }
        out
    }

    /// Parses the answer.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let n = r.u8("element count")?;
        let element_size = r.u8("element size")?;
        let elements = (0..n)
            .map(|_| {
                r.bytes(element_size as usize, "element")
                    .map(<[u8]>::to_vec)
            })
            .collect::<Result<_, _>>()?;
        r.finish()?;
        Ok(MoreElementsAnswer {
            element_size,
            elements,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_recorded_session() {
        // Device request and host answers from a recorded Speculos session (LedgerHQ
        // client test data): GET_MERKLE_LEAF_PROOF on a 1-key list, then the answer.
        let req =
            hex::decode("41feacb8b161672bffec7b35f4035eceb1d9c918e2507b51d1716324b9688568030100")
                .unwrap();
        let c = ClientCommand::decode(&req).unwrap();
        assert!(matches!(
            c,
            ClientCommand::GetMerkleLeafProof {
                size: 1,
                index: 0,
                ..
            }
        ));
        assert_eq!(c.encode(), req);
        let ans =
            hex::decode("feacb8b161672bffec7b35f4035eceb1d9c918e2507b51d1716324b9688568030000")
                .unwrap();
        let a = LeafProofAnswer::decode(&ans).unwrap();
        assert_eq!((a.proof_len, a.proof.len()), (0, 0));
        assert_eq!(a.encode(), ans);
        // GET_PREIMAGE answer for the template "tr(@0/**)": length 9, 9 bytes.
        let p = PreimageAnswer::decode(&hex::decode("090974722840302f2a2a29").unwrap()).unwrap();
        assert_eq!(p.prefix, b"tr(@0/**)");
        assert_eq!(
            hex::encode(continue_command(p.encode()).encode().unwrap()),
            "f80100010b090974722840302f2a2a29"
        );
    }

    proptest! {
        #[test]
        fn roundtrips(h: [u8; 32], g: [u8; 32], size: u64, index: u64, y in proptest::collection::vec(any::<u8>(), 0..100)) {
            for c in [ClientCommand::Yield(y.clone()), ClientCommand::GetPreimage(h), ClientCommand::GetMerkleLeafProof { root: h, size, index }, ClientCommand::GetMerkleLeafIndex { root: h, leaf_hash: g }, ClientCommand::GetMoreElements] {
                prop_assert_eq!(ClientCommand::decode(&c.encode()).unwrap(), c);
            }
            let p = PreimageAnswer { length: y.len() as u64 + index % 5, prefix: y.clone() };
            prop_assert_eq!(PreimageAnswer::decode(&p.encode()).unwrap(), p);
            let l = LeafProofAnswer { leaf_hash: h, proof_len: 3, proof: vec![g, h] };
            prop_assert_eq!(LeafProofAnswer::decode(&l.encode()).unwrap(), l);
            let i = LeafIndexAnswer { found: true, index };
            prop_assert_eq!(LeafIndexAnswer::decode(&i.encode()).unwrap(), i);
            let m = MoreElementsAnswer { element_size: 1, elements: y.iter().map(|b| vec![*b]).collect() };
            prop_assert_eq!(MoreElementsAnswer::decode(&m.encode()).unwrap(), m);
        }

        #[test]
        fn garbage(b in proptest::collection::vec(any::<u8>(), 0..255)) {
            let _ = ClientCommand::decode(&b);
            let _ = PreimageAnswer::decode(&b);
            let _ = LeafProofAnswer::decode(&b);
            let _ = LeafIndexAnswer::decode(&b);
            let _ = MoreElementsAnswer::decode(&b);
        }
    }
}
