//! Host side of the interrupt loop: an interpreter that answers the device's client commands
//! from the preimages and merkle trees the host registered, and [`HostFlow`], a pure state
//! machine that turns device responses into the next APDU to send.

use super::client_commands::{
    continue_command, ClientCommand, LeafIndexAnswer, LeafProofAnswer, MoreElementsAnswer,
    PreimageAnswer,
};
use super::commands::BitcoinCommand;
use super::merkle::{Hash, MapCommitment, MerkleTree, MerkleizedMap};
use super::policy::{PolicyVersion, WalletPolicy};
use super::psbt::{PsbtMap, PsbtV2Maps};
use super::sha256;
use crate::apdu::{Command, Response};
use crate::codec::{varint, DecodeError};
use crate::path::Bip32Path;
use crate::status::StatusWord;
use std::collections::{HashMap, VecDeque};
use thiserror::Error;

/// Largest CONTINUE payload.
const MAX_ANSWER: usize = 255;

/// Why the host could not answer a client command.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InterpreterError {
    /// The request did not parse.
    #[error("malformed client command: {0}")]
    Malformed(#[from] DecodeError),
    /// The device asked for a preimage the host does not know.
    #[error("unknown preimage requested: {0}")]
    UnknownPreimage(String),
    /// The device named a merkle tree the host does not know.
    #[error("unknown merkle tree {0}")]
    UnknownTree(String),
    /// Leaf index or tree size does not match the tree.
    #[error("leaf index {index} / size {size} does not match the tree")]
    BadIndex {
        /// Requested index.
        index: u64,
        /// Requested size.
        size: u64,
    },
    /// GET_MORE_ELEMENTS with nothing queued, or a new request while elements are queued.
    #[error("element queue in unexpected state")]
    Queue,
}

/// Answers client commands from known preimages and merkle trees.
#[derive(Debug, Clone, Default)]
pub struct HostInterpreter {
    preimages: HashMap<Hash, Vec<u8>>,
    trees: Vec<MerkleTree>,
    queue: VecDeque<Vec<u8>>,
    yielded: Vec<Vec<u8>>,
}

impl HostInterpreter {
    /// An interpreter that knows nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes a preimage known; returns its sha256.
    pub fn add_known_preimage(&mut self, data: &[u8]) -> Hash {
        let h = sha256(data);
        self.preimages.insert(h, data.to_vec());
        h
    }

    /// Makes a list known (its merkle tree and each leaf's `0x00||element` preimage);
    /// returns the root.
    pub fn add_known_list<T: AsRef<[u8]>>(&mut self, elements: &[T]) -> Hash {
        for e in elements {
            let mut pre = vec![0u8];
            pre.extend_from_slice(e.as_ref());
            self.add_known_preimage(&pre);
        }
        let tree = MerkleTree::from_elements(elements);
        let root = tree.root();
        self.trees.push(tree);
        root
    }

    /// Makes a merkleized map known; returns its commitment.
    pub fn add_known_map(&mut self, map: &MerkleizedMap) -> MapCommitment {
        self.add_known_list(&map.keys);
        self.add_known_list(&map.values);
        map.commitment()
    }

    /// Makes a wallet policy known (serialization, keys list, and the template for v2).
    pub fn add_known_policy(&mut self, policy: &WalletPolicy) {
        self.add_known_preimage(&policy.serialize());
        self.add_known_list(&policy.keys);
        if policy.version == PolicyVersion::V2 {
            self.add_known_preimage(policy.descriptor_template.as_bytes());
        }
    }

    /// Makes a PSBT's maps known, with the lists of input and output map commitments;
    /// returns the global map's commitment and the roots of the two lists.
    pub fn add_known_psbt(&mut self, maps: &PsbtV2Maps) -> (MapCommitment, Hash, Hash) {
        let global = self.add_known_map(&MerkleizedMap::new(maps.global.clone()));
        let mut list = |maps: &[PsbtMap]| {
            let commitments: Vec<Vec<u8>> = maps
                .iter()
                .map(|m| self.add_known_map(&MerkleizedMap::new(m.clone())).encode())
                .collect();
            self.add_known_list(&commitments)
        };
        let inputs_root = list(&maps.inputs);
        let outputs_root = list(&maps.outputs);
        (global, inputs_root, outputs_root)
    }

    /// Items the device yielded so far.
    pub fn yielded(&self) -> &[Vec<u8>] {
        &self.yielded
    }

    /// Answers one client command (the data of a 0xE000 response).
    pub fn handle(&mut self, request: &[u8]) -> Result<Vec<u8>, InterpreterError> {
        let cmd = ClientCommand::decode(request)?;
        if !matches!(cmd, ClientCommand::GetMoreElements) && !self.queue.is_empty() {
            return Err(InterpreterError::Queue);
        }
        match cmd {
            ClientCommand::Yield(data) => {
                self.yielded.push(data);
                Ok(Vec::new())
            }
            ClientCommand::GetPreimage(h) => {
                let pre = self
                    .preimages
                    .get(&h)
                    .ok_or_else(|| InterpreterError::UnknownPreimage(hex(&h)))?;
                let room = MAX_ANSWER - varint(pre.len() as u64).len() - 1;
                let take = pre.len().min(room);
                self.queue.extend(pre[take..].iter().map(|b| vec![*b]));
                Ok(PreimageAnswer {
                    length: pre.len() as u64,
                    prefix: pre[..take].to_vec(),
                }
                .encode())
            }
            ClientCommand::GetMerkleLeafProof { root, size, index } => {
                let tree = self.tree(&root)?;
                if tree.size() as u64 != size || index >= size {
                    return Err(InterpreterError::BadIndex { index, size });
                }
                let leaf_hash = tree.leaf(index as usize).expect("index checked");
                let proof = tree.proof(index as usize).expect("index checked");
                let take = proof.len().min((MAX_ANSWER - 34) / 32);
                self.queue.extend(proof[take..].iter().map(|h| h.to_vec()));
                Ok(LeafProofAnswer {
                    leaf_hash,
                    proof_len: proof.len() as u8,
                    proof: proof[..take].to_vec(),
                }
                .encode())
            }
            ClientCommand::GetMerkleLeafIndex { root, leaf_hash } => {
                let tree = self.tree(&root)?;
                let answer = match tree.index_of(&leaf_hash) {
                    Some(i) => LeafIndexAnswer {
                        found: true,
                        index: i as u64,
                    },
                    None => LeafIndexAnswer {
                        found: false,
                        index: 0,
                    },
                };
                Ok(answer.encode())
            }
            ClientCommand::GetMoreElements => {
                let size = self.queue.front().ok_or(InterpreterError::Queue)?.len();
                let n = ((MAX_ANSWER - 2) / size.max(1)).min(self.queue.len());
                let elements: Vec<Vec<u8>> = self.queue.drain(..n).collect();
                if elements.iter().any(|e| e.len() != size) {
                    return Err(InterpreterError::Queue);
                }
                Ok(MoreElementsAnswer {
                    element_size: size as u8,
                    elements,
                }
                .encode())
            }
        }
    }

    fn tree(&self, root: &Hash) -> Result<&MerkleTree, InterpreterError> {
        self.trees
            .iter()
            .find(|t| &t.root() == root)
            .ok_or_else(|| InterpreterError::UnknownTree(hex(root)))
    }
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a host flow failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostFlowError {
    /// The device answered with an error status.
    #[error("device answered {status} to INS {ins:#04x}")]
    Device {
        /// The status.
        status: StatusWord,
        /// The command's instruction.
        ins: u8,
    },
    /// The host could not answer a client command.
    #[error(transparent)]
    Interpreter(#[from] InterpreterError),
    /// A response arrived after the flow finished.
    #[error("the flow already finished")]
    Finished,
}

/// What to do next in a [`HostFlow`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostStep {
    /// Send this APDU and feed its response back.
    Send(Command),
    /// The command completed with this data.
    Done(Vec<u8>),
}

/// A Bitcoin-app command together with the interpreter that serves its client commands.
#[derive(Debug, Clone)]
pub struct HostFlow {
    command: Command,
    interpreter: HostInterpreter,
    finished: bool,
}

impl HostFlow {
    /// A flow for any command with a prepared interpreter.
    pub fn new(command: &BitcoinCommand, interpreter: HostInterpreter) -> Self {
        HostFlow {
            command: command.to_command(),
            interpreter,
            finished: false,
        }
    }

    /// GET_MASTER_FINGERPRINT (parse the result with
    /// [`super::commands::parse_master_fingerprint`]).
    pub fn get_master_fingerprint() -> Self {
        Self::new(
            &BitcoinCommand::GetMasterFingerprint,
            HostInterpreter::new(),
        )
    }

    /// GET_EXTENDED_PUBKEY (parse with [`super::commands::parse_extended_pubkey`]).
    pub fn get_extended_pubkey(path: &Bip32Path, display: bool) -> Self {
        let cmd = BitcoinCommand::GetExtendedPubkey {
            display,
            path: path.clone(),
        };
        Self::new(&cmd, HostInterpreter::new())
    }

    /// REGISTER_WALLET (parse with [`super::commands::RegisteredWallet::decode`]).
    pub fn register_wallet(policy: &WalletPolicy) -> Self {
        let mut i = HostInterpreter::new();
        i.add_known_policy(policy);
        let cmd = BitcoinCommand::RegisterWallet {
            policy: policy.serialize(),
        };
        Self::new(&cmd, i)
    }

    /// GET_WALLET_ADDRESS; `hmac` is `None` for a default wallet (parse with
    /// [`super::commands::parse_wallet_address`]).
    pub fn get_wallet_address(
        policy: &WalletPolicy,
        hmac: Option<Hash>,
        change: bool,
        address_index: u32,
        display: bool,
    ) -> Self {
        let mut i = HostInterpreter::new();
        i.add_known_policy(policy);
        let cmd = BitcoinCommand::GetWalletAddress {
            display,
            wallet_id: policy.id(),
            wallet_hmac: hmac.unwrap_or([0; 32]),
            change,
            address_index,
        };
        Self::new(&cmd, i)
    }

    /// SIGN_MESSAGE over 64-byte chunks (parse with
    /// [`super::commands::MessageSignature::decode`]).
    pub fn sign_message(path: &Bip32Path, message: &[u8]) -> Self {
        let mut i = HostInterpreter::new();
        let chunks: Vec<&[u8]> = message.chunks(64).collect();
        let merkle_root = i.add_known_list(&chunks);
        let cmd = BitcoinCommand::SignMessage {
            path: path.clone(),
            message_length: message.len() as u64,
            merkle_root,
        };
        Self::new(&cmd, i)
    }

    /// SIGN_PSBT for a wallet policy (`hmac` is `None` for a default wallet). The partial
    /// signatures arrive as yielded items: parse them with
    /// [`super::psbt::parse_yielded_signatures`] on `interpreter().yielded()`.
    pub fn sign_psbt(maps: &PsbtV2Maps, policy: &WalletPolicy, hmac: Option<Hash>) -> Self {
        let mut i = HostInterpreter::new();
        i.add_known_policy(policy);
        let (global_map, inputs_root, outputs_root) = i.add_known_psbt(maps);
        let cmd = BitcoinCommand::SignPsbt {
            global_map,
            n_inputs: maps.inputs.len() as u64,
            inputs_root,
            n_outputs: maps.outputs.len() as u64,
            outputs_root,
            wallet_id: policy.id(),
            wallet_hmac: hmac.unwrap_or([0; 32]),
        };
        Self::new(&cmd, i)
    }

    /// The first APDU to send.
    pub fn first_command(&self) -> &Command {
        &self.command
    }

    /// The interpreter (e.g. for yielded items after SIGN_PSBT).
    pub fn interpreter(&self) -> &HostInterpreter {
        &self.interpreter
    }

    /// Feeds the device's response to the last APDU sent.
    pub fn on_response(&mut self, response: Response) -> Result<HostStep, HostFlowError> {
        if self.finished {
            return Err(HostFlowError::Finished);
        }
        match response.status {
            StatusWord::OK => {
                self.finished = true;
                Ok(HostStep::Done(response.data))
            }
            StatusWord::INTERRUPTED_EXECUTION => {
                let answer = self.interpreter.handle(&response.data).inspect_err(|_| {
                    self.finished = true;
                })?;
                Ok(HostStep::Send(continue_command(answer)))
            }
            status => {
                self.finished = true;
                Err(HostFlowError::Device {
                    status,
                    ins: self.command.ins,
                })
            }
        }
    }
}

/// Error of [`run`]: the flow's, or the caller's exchange function's.
#[derive(Debug, Error)]
pub enum RunError<E> {
    /// The protocol failed.
    #[error(transparent)]
    Flow(#[from] HostFlowError),
    /// The exchange failed.
    #[error("exchange failed: {0}")]
    Exchange(E),
}

/// Drives a flow to completion with a caller-supplied exchange function (the only I/O).
pub fn run<E>(
    flow: &mut HostFlow,
    mut exchange: impl FnMut(&Command) -> Result<Response, E>,
) -> Result<Vec<u8>, RunError<E>> {
    let mut next = flow.first_command().clone();
    loop {
        let resp = exchange(&next).map_err(RunError::Exchange)?;
        match flow.on_response(resp)? {
            HostStep::Send(c) => next = c,
            HostStep::Done(d) => return Ok(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bitcoin::psbt::tests::ledger_sh_wpkh_psbt;

    #[test]
    fn golden_sign_psbt_command() {
        // First APDU LedgerHQ's Rust client sent for this PSBT and the default sh(wpkh(@0/**))
        // wallet (its test data, sign_psbt.json): our maps, commitments and lists must give
        // the same bytes.
        let policy = WalletPolicy {
            version: PolicyVersion::V2,
            name: String::new(),
            descriptor_template: "sh(wpkh(@0/**))".into(),
            keys: vec!["[f5acc2fd/49'/1'/0']tpubDC871vGLAiKPcwAw22EjhKVLk5L98UGXBEcGR8gpcigLQVDDfgcYW24QBEyTHTSFEjgJgbaHU8CdRi9vmG4cPm1kPLmZhJEP17FMBdNheh3".into()],
        };
        let maps = PsbtV2Maps::from_psbt(&ledger_sh_wpkh_psbt()).unwrap();
        let flow = HostFlow::sign_psbt(&maps, &policy, None);
        assert_eq!(
            hex(&flow.first_command().encode().unwrap()),
            "e1040001c305519b38dae74447b72151f354cb138ca3591a5ff8ac813289b18a004e3132162086d8d9498a323006ec5982eeb4ea7c41d27020d57985512ab59ff8f40d50150701185a2fac562419c1ce8ed936d13cfe9ca4be0bec1a0d84f8ce433763fc6d41d502f4c4f92e968760845d5694ce5ac4ad9ed0a33d00278d6e7fe89e807f899d2637be693418eee0c522b55f74c62b6ecad9697ef1e6e8bb973ff29740432960db480000000000000000000000000000000000000000000000000000000000000000"
        );
        // The device's first request in that session (proof of input map 0) is answered.
        let mut interp = flow.interpreter().clone();
        let req = [
            &[0x41u8][..],
            &flow.first_command().data[66..98],
            &[0x01, 0x00],
        ]
        .concat();
        let answer = LeafProofAnswer::decode(&interp.handle(&req).unwrap()).unwrap();
        assert_eq!(answer.proof_len, 0);
    }
}
