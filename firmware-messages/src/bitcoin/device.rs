//! Device side of the interrupt loop, for a simulated device.
//!
//! The device handler is written as straight-line code that asks the host for data. It is
//! run by *replay*: each time an answer arrives (CONTINUE), the handler runs again from the
//! start over the answers received so far; when it needs an answer not yet received it
//! stops with [`FlowError::NeedAnswer`], whose request the device sends with status 0xE000.
//! Handlers must therefore be deterministic and act (sign, prompt) only once all their data
//! is in. Every answer is checked against the commitment it claims to open.

use super::client_commands::{
    ClientCommand, LeafIndexAnswer, LeafProofAnswer, MoreElementsAnswer, PreimageAnswer,
};
use super::merkle::{leaf_hash, proof_len, root_from_proof, Hash, MapCommitment};
use super::sha256;
use crate::apdu::Command;
use crate::codec::DecodeError;
use crate::status::StatusWord;
use thiserror::Error;

/// Longest preimage a device handler accepts.
pub const MAX_PREIMAGE: u64 = 1 << 20;

/// Why a device handler stopped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FlowError {
    /// The handler needs the host to answer this request (send it with 0xE000).
    #[error("waiting for the host to answer {0:?}")]
    NeedAnswer(ClientCommand),
    /// The host's answer did not parse.
    #[error("malformed answer from the host: {0}")]
    BadAnswer(#[from] DecodeError),
    /// The host's answer does not open the commitment.
    #[error("answer does not match the commitment: {0}")]
    Mismatch(&'static str),
}

impl FlowError {
    /// The status word the device answers with.
    pub fn status(&self) -> StatusWord {
        match self {
            FlowError::NeedAnswer(_) => StatusWord::INTERRUPTED_EXECUTION,
            FlowError::BadAnswer(_) | FlowError::Mismatch(_) => StatusWord::INCORRECT_DATA,
        }
    }
}

/// An in-progress command and the host's answers so far.
#[derive(Debug, Clone)]
pub struct DeviceSession {
    /// The command that started the flow.
    pub command: Command,
    answers: Vec<Vec<u8>>,
}

impl DeviceSession {
    /// Starts a session for a command.
    pub fn new(command: Command) -> Self {
        DeviceSession {
            command,
            answers: Vec::new(),
        }
    }

    /// Records the data of a CONTINUE.
    pub fn push_answer(&mut self, data: Vec<u8>) {
        self.answers.push(data);
    }

    /// Number of answers received.
    pub fn answers(&self) -> usize {
        self.answers.len()
    }

    /// A flow replaying the answers from the start.
    pub fn flow(&self) -> DeviceFlow<'_> {
        DeviceFlow {
            answers: &self.answers,
            next: 0,
        }
    }
}

/// Replays the host's answers to a handler's requests.
#[derive(Debug)]
pub struct DeviceFlow<'a> {
    answers: &'a [Vec<u8>],
    next: usize,
}

impl DeviceFlow<'_> {
    /// Asks the host; returns the recorded answer or stops with `NeedAnswer`.
    pub fn ask(&mut self, request: ClientCommand) -> Result<&[u8], FlowError> {
        match self.answers.get(self.next) {
            Some(a) => {
                self.next += 1;
                Ok(a)
            }
            None => Err(FlowError::NeedAnswer(request)),
        }
    }

    /// Sends a YIELD (its answer must be empty).
    pub fn yield_data(&mut self, data: Vec<u8>) -> Result<(), FlowError> {
        if !self.ask(ClientCommand::Yield(data))?.is_empty() {
            return Err(FlowError::Mismatch("non-empty answer to YIELD"));
        }
        Ok(())
    }

    fn more_elements(
        &mut self,
        size: usize,
        want: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), FlowError> {
        while out.len() < want {
            let a = MoreElementsAnswer::decode(self.ask(ClientCommand::GetMoreElements)?)?;
            if a.elements.is_empty() || a.element_size as usize != size {
                return Err(FlowError::Mismatch(
                    "GET_MORE_ELEMENTS returned no or wrong-size elements",
                ));
            }
            for e in a.elements {
                out.extend_from_slice(&e);
            }
        }
        if out.len() != want {
            return Err(FlowError::Mismatch("too many elements"));
        }
        Ok(())
    }

    /// Gets and checks the preimage of `hash`.
    pub fn get_preimage(&mut self, hash: &Hash) -> Result<Vec<u8>, FlowError> {
        let a = PreimageAnswer::decode(self.ask(ClientCommand::GetPreimage(*hash))?)?;
        if a.length > MAX_PREIMAGE {
            return Err(FlowError::Mismatch("preimage too long"));
        }
        let mut out = a.prefix;
        self.more_elements(1, a.length as usize, &mut out)?;
        if &sha256(&out) != hash {
            return Err(FlowError::Mismatch("preimage does not hash to the request"));
        }
        Ok(out)
    }

    /// Gets and checks the hash of leaf `index` of the tree (`root`, `size`).
    pub fn get_leaf_hash(&mut self, root: &Hash, size: u64, index: u64) -> Result<Hash, FlowError> {
        let expected_len = usize::try_from(size)
            .ok()
            .zip(usize::try_from(index).ok())
            .and_then(|(s, i)| proof_len(s, i))
            .ok_or(FlowError::Mismatch("leaf index out of range"))?;
        let req = ClientCommand::GetMerkleLeafProof {
            root: *root,
            size,
            index,
        };
        let a = LeafProofAnswer::decode(self.ask(req)?)?;
        if a.proof_len as usize != expected_len {
            return Err(FlowError::Mismatch("merkle proof has the wrong length"));
        }
        let mut flat: Vec<u8> = a.proof.concat();
        self.more_elements(32, expected_len * 32, &mut flat)?;
        let proof: Vec<Hash> = flat
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32-byte chunks"))
            .collect();
        match root_from_proof(size as usize, index as usize, &a.leaf_hash, &proof) {
            Some(r) if &r == root => Ok(a.leaf_hash),
            _ => Err(FlowError::Mismatch(
                "merkle proof does not lead to the root",
            )),
        }
    }

    /// Gets and checks element `index` of a committed list (leaf preimage without 0x00).
    pub fn get_leaf_element(
        &mut self,
        root: &Hash,
        size: u64,
        index: u64,
    ) -> Result<Vec<u8>, FlowError> {
        let leaf = self.get_leaf_hash(root, size, index)?;
        let mut pre = self.get_preimage(&leaf)?;
        if pre.first() != Some(&0) {
            return Err(FlowError::Mismatch("leaf preimage lacks the 0x00 prefix"));
        }
        pre.remove(0);
        Ok(pre)
    }

    /// Gets the index of a leaf, then checks it with its proof. `None` if the host says it
    /// is absent.
    pub fn get_leaf_index(
        &mut self,
        root: &Hash,
        size: u64,
        leaf_hash: &Hash,
    ) -> Result<Option<u64>, FlowError> {
        let req = ClientCommand::GetMerkleLeafIndex {
            root: *root,
            leaf_hash: *leaf_hash,
        };
        let a = LeafIndexAnswer::decode(self.ask(req)?)?;
        if !a.found {
            return Ok(None);
        }
        if &self.get_leaf_hash(root, size, a.index)? != leaf_hash {
            return Err(FlowError::Mismatch("leaf index answer is wrong"));
        }
        Ok(Some(a.index))
    }

    /// Gets and checks the map commitment at `index` of a committed list of maps (SIGN_PSBT's
    /// input and output maps).
    pub fn get_map_commitment(
        &mut self,
        root: &Hash,
        size: u64,
        index: u64,
    ) -> Result<MapCommitment, FlowError> {
        Ok(MapCommitment::decode(
            &self.get_leaf_element(root, size, index)?,
        )?)
    }

    /// Gets and checks the key at `index` (in sorted order) of a merkleized map.
    pub fn get_map_key(&mut self, map: &MapCommitment, index: u64) -> Result<Vec<u8>, FlowError> {
        self.get_leaf_element(&map.keys_root, map.size, index)
    }

    /// Gets and checks the value of `key` in a merkleized map; `None` if the host says the
    /// key is absent. (LedgerHQ's Rust client errors on an absent key instead of answering
    /// "not found": to read optional fields, read the keys with [`Self::get_map_key`] first.)
    pub fn get_map_value(
        &mut self,
        map: &MapCommitment,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, FlowError> {
        match self.get_leaf_index(&map.keys_root, map.size, &leaf_hash(key))? {
            None => Ok(None),
            Some(i) => self
                .get_leaf_element(&map.values_root, map.size, i)
                .map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitcoin::host::HostInterpreter;
    use crate::bitcoin::merkle::MerkleizedMap;
    use proptest::prelude::*;

    /// Runs a device handler against a host interpreter until it completes.
    fn drive<T>(
        host: &mut HostInterpreter,
        mut handler: impl FnMut(&mut DeviceFlow<'_>) -> Result<T, FlowError>,
    ) -> Result<T, FlowError> {
        let mut s = DeviceSession::new(Command::new(0xE1, 0x10, 0, 1, vec![]));
        loop {
            match handler(&mut s.flow()) {
                Err(FlowError::NeedAnswer(req)) => {
                    let answer = host
                        .handle(&req.encode())
                        .map_err(|_| FlowError::Mismatch("host refused"))?;
                    s.push_answer(answer);
                }
                other => return other,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn device_reads_host_lists(elements in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..400), 1..20)) {
            let mut host = HostInterpreter::new();
            let root = host.add_known_list(&elements);
            let n = elements.len() as u64;
            let got = drive(&mut host, |f| (0..n).map(|i| f.get_leaf_element(&root, n, i)).collect::<Result<Vec<_>, _>>()).unwrap();
            prop_assert_eq!(&got, &elements);
            let last = leaf_hash(&elements[elements.len() - 1]);
            let idx = drive(&mut host, |f| f.get_leaf_index(&root, n, &last)).unwrap();
            prop_assert!(idx.is_some());
        }

        #[test]
        fn lying_host_is_caught(garbage in proptest::collection::vec(any::<u8>(), 0..120)) {
            let answers = vec![garbage];
            let s = DeviceSession { command: Command::new(0, 0, 0, 0, vec![]), answers };
            let r = s.flow().get_leaf_element(&[7; 32], 5, 3);
            prop_assert!(matches!(r, Err(FlowError::BadAnswer(_)) | Err(FlowError::Mismatch(_)) | Err(FlowError::NeedAnswer(_))));
        }
    }

    #[test]
    fn host_stating_a_tree_of_2_pow_64_leaves_is_refused() {
        // The `merkle` fuzz target's finding (fuzz/regressions/merkle/): a map commitment or
        // list size above 2^63 made the device's expected proof length overflow. Now the
        // device expects 64 hashes and refuses the host's shorter proof.
        // Leaf hash, proof length 1, one hash in this answer.
        let mut answer = vec![0x22; 32];
        answer.extend_from_slice(&[1, 1]);
        answer.extend_from_slice(&[0x33; 32]);
        let s = DeviceSession {
            command: Command::new(0, 0, 0, 0, vec![]),
            answers: vec![answer],
        };
        let r = s.flow().get_leaf_hash(&[7; 32], u64::MAX, 3);
        assert_eq!(
            r,
            Err(FlowError::Mismatch("merkle proof has the wrong length"))
        );
        let map = MapCommitment {
            size: u64::MAX,
            keys_root: [7; 32],
            values_root: [7; 32],
        };
        assert!(s.flow().get_map_key(&map, 0).is_err());
    }

    #[test]
    fn device_reads_host_maps() {
        let mut host = HostInterpreter::new();
        let map = MerkleizedMap::new(vec![
            (vec![0x04], b"script".to_vec()),
            (vec![0x03], 5u64.to_le_bytes().to_vec()),
            (vec![0x16, 1, 2], vec![9; 300]),
        ]);
        let c = host.add_known_map(&map);
        let list = host.add_known_list(&[c.encode(), c.encode()]);
        let (value, absent, first_key, from_list) = drive(&mut host, |f| {
            Ok((
                f.get_map_value(&c, &[0x16, 1, 2])?,
                f.get_map_value(&c, &[0x05])?,
                f.get_map_key(&c, 0)?,
                f.get_map_commitment(&list, 2, 1)?,
            ))
        })
        .unwrap();
        assert_eq!(value, Some(vec![9; 300]));
        assert_eq!((absent, first_key, from_list), (None, vec![0x03], c));
        // A list element that is not a map commitment is bad data.
        let bad = host.add_known_list(&[b"not a commitment"]);
        assert!(matches!(
            drive(&mut host, |f| f.get_map_commitment(&bad, 1, 0)),
            Err(FlowError::BadAnswer(_))
        ));
    }

    #[test]
    fn wrong_preimage_rejected() {
        let mut host = HostInterpreter::new();
        let h = host.add_known_preimage(b"hello");
        let s = DeviceSession {
            command: Command::new(0, 0, 0, 0, vec![]),
            answers: vec![PreimageAnswer {
                length: 5,
                prefix: b"hellp".to_vec(),
            }
            .encode()],
        };
        assert_eq!(
            s.flow().get_preimage(&h),
            Err(FlowError::Mismatch("preimage does not hash to the request"))
        );
    }
}
