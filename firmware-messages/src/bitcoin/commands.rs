//! The Bitcoin app's commands (CLA 0xE1) and their replies.

use super::merkle::{Hash, MapCommitment};
use super::{ins, CLA_BITCOIN, PROTOCOL_VERSION};
use crate::apdu::Command;
use crate::codec::{utf8, write_varint, DecodeError, Reader};
use crate::path::Bip32Path;

/// Deepest path the app accepts.
pub const MAX_PATH_DEPTH: usize = 8;

/// A command to the Bitcoin app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BitcoinCommand {
    /// Extended public key at a path, optionally shown.
    GetExtendedPubkey {
        /// Show on screen.
        display: bool,
        /// Path.
        path: Bip32Path,
    },
    /// Register a wallet policy (the serialized policy).
    RegisterWallet {
        /// Serialized wallet policy (see [`super::policy::WalletPolicy::serialize`]).
        policy: Vec<u8>,
    },
    /// Address of a registered or default wallet.
    GetWalletAddress {
        /// Show on screen and wait for confirmation.
        display: bool,
        /// sha256 of the serialized policy.
        wallet_id: Hash,
        /// HMAC of a registered wallet, zeros for a default wallet.
        wallet_hmac: Hash,
        /// Change (1) or receive (0).
        change: bool,
        /// Address index.
        address_index: u32,
    },
    /// Sign a PSBTv2 given as merkleized maps.
    SignPsbt {
        /// Global map.
        global_map: MapCommitment,
        /// Number of inputs.
        n_inputs: u64,
        /// Root of the input map commitments.
        inputs_root: Hash,
        /// Number of outputs.
        n_outputs: u64,
        /// Root of the output map commitments.
        outputs_root: Hash,
        /// Wallet id.
        wallet_id: Hash,
        /// Wallet HMAC or zeros.
        wallet_hmac: Hash,
    },
    /// Master key fingerprint.
    GetMasterFingerprint,
    /// Sign a message (legacy Bitcoin Signed Message), given as merkleized 64-byte chunks.
    SignMessage {
        /// Path of the signing key.
        path: Bip32Path,
        /// Message length in bytes.
        message_length: u64,
        /// Merkle root of the chunks.
        merkle_root: Hash,
    },
}

impl BitcoinCommand {
    /// The APDU (P1 0, P2 = protocol version 1).
    pub fn to_command(&self) -> Command {
        let mut d = Vec::new();
        let ins = match self {
            Self::GetExtendedPubkey { display, path } => {
                d.push(*display as u8);
                path.write(&mut d);
                ins::GET_EXTENDED_PUBKEY
            }
            Self::RegisterWallet { policy } => {
                write_varint(&mut d, policy.len() as u64);
                d.extend_from_slice(policy);
                ins::REGISTER_WALLET
            }
            Self::GetWalletAddress {
                display,
                wallet_id,
                wallet_hmac,
                change,
                address_index,
            } => {
                d.push(*display as u8);
                d.extend_from_slice(wallet_id);
                d.extend_from_slice(wallet_hmac);
                d.push(*change as u8);
                d.extend_from_slice(&address_index.to_be_bytes());
                ins::GET_WALLET_ADDRESS
            }
            Self::SignPsbt {
                global_map,
                n_inputs,
                inputs_root,
                n_outputs,
                outputs_root,
                wallet_id,
                wallet_hmac,
            } => {
                global_map.write(&mut d);
                write_varint(&mut d, *n_inputs);
                d.extend_from_slice(inputs_root);
                write_varint(&mut d, *n_outputs);
                d.extend_from_slice(outputs_root);
                d.extend_from_slice(wallet_id);
                d.extend_from_slice(wallet_hmac);
                ins::SIGN_PSBT
            }
            Self::GetMasterFingerprint => ins::GET_MASTER_FINGERPRINT,
            Self::SignMessage {
                path,
                message_length,
                merkle_root,
            } => {
                path.write(&mut d);
                write_varint(&mut d, *message_length);
                d.extend_from_slice(merkle_root);
                ins::SIGN_MESSAGE
            }
        };
        Command::new(CLA_BITCOIN, ins, 0, PROTOCOL_VERSION, d)
    }

    /// Parses an APDU of the Bitcoin app. Bad P1/P2 gives an `Invalid` error on field
    /// `P1/P2` (the app answers 0x6A86); unknown INS gives `UnexpectedCommand`.
    pub fn from_command(c: &Command) -> Result<Self, DecodeError> {
        if c.cla != CLA_BITCOIN {
            return Err(DecodeError::UnexpectedCommand {
                cla: c.cla,
                ins: c.ins,
            });
        }
        if c.p1 != 0 || c.p2 > PROTOCOL_VERSION {
            return Err(DecodeError::invalid("P1/P2", "P1 must be 0 and P2 0 or 1"));
        }
        let mut r = Reader::new(&c.data);
        let flag = |b: u8, field| match b {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::invalid(field, "must be 0 or 1")),
        };
        let cmd = match c.ins {
            ins::GET_EXTENDED_PUBKEY => Self::GetExtendedPubkey {
                display: flag(r.u8("display")?, "display")?,
                path: Bip32Path::read(&mut r, MAX_PATH_DEPTH)?,
            },
            ins::REGISTER_WALLET => {
                let n = r.varint("policy length")? as usize;
                Self::RegisterWallet {
                    policy: r.bytes(n, "policy")?.to_vec(),
                }
            }
            ins::GET_WALLET_ADDRESS => Self::GetWalletAddress {
                display: flag(r.u8("display")?, "display")?,
                wallet_id: r.array("wallet id")?,
                wallet_hmac: r.array("wallet hmac")?,
                change: flag(r.u8("change")?, "change")?,
                address_index: r.u32_be("address index")?,
            },
            ins::SIGN_PSBT => Self::SignPsbt {
                global_map: MapCommitment::read(&mut r)?,
                n_inputs: r.varint("inputs count")?,
                inputs_root: r.array("inputs root")?,
                n_outputs: r.varint("outputs count")?,
                outputs_root: r.array("outputs root")?,
                wallet_id: r.array("wallet id")?,
                wallet_hmac: r.array("wallet hmac")?,
            },
            ins::GET_MASTER_FINGERPRINT => Self::GetMasterFingerprint,
            ins::SIGN_MESSAGE => Self::SignMessage {
                path: Bip32Path::read(&mut r, MAX_PATH_DEPTH)?,
                message_length: r.varint("message length")?,
                merkle_root: r.array("message merkle root")?,
            },
            ins => return Err(DecodeError::UnexpectedCommand { cla: c.cla, ins }),
        };
        r.finish()?;
        Ok(cmd)
    }
}

/// Parses the master fingerprint reply.
pub fn parse_master_fingerprint(data: &[u8]) -> Result<[u8; 4], DecodeError> {
    let mut r = Reader::new(data);
    let fp = r.array("fingerprint")?;
    r.finish()?;
    Ok(fp)
}

/// Parses the extended pubkey reply (the base58 xpub as ASCII).
pub fn parse_extended_pubkey(data: &[u8]) -> Result<String, DecodeError> {
    let s = utf8(data, "xpub")?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(DecodeError::invalid("xpub", "not base58 text"));
    }
    Ok(s)
}

/// Parses the wallet address reply (ASCII address).
pub fn parse_wallet_address(data: &[u8]) -> Result<String, DecodeError> {
    let s = utf8(data, "address")?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(DecodeError::invalid("address", "not an address"));
    }
    Ok(s)
}

/// Register wallet reply: wallet id and HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisteredWallet {
    /// sha256 of the serialized policy.
    pub wallet_id: Hash,
    /// HMAC to present with the policy later.
    pub hmac: Hash,
}

impl RegisteredWallet {
    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        [self.wallet_id, self.hmac].concat()
    }

    /// Parses the reply.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let out = RegisteredWallet {
            wallet_id: r.array("wallet id")?,
            hmac: r.array("hmac")?,
        };
        r.finish()?;
        Ok(out)
    }
}

/// Sign message reply: header byte (31..=34, compressed P2PKH) then r and s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageSignature {
    /// Header: 27 + 4 (compressed) + recovery id.
    pub header: u8,
    /// r || s, big-endian.
    pub rs: [u8; 64],
}

impl MessageSignature {
    /// The 65-byte wire form (also the BIP-137 binary form before base64).
    pub fn encode(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[0] = self.header;
        out[1..].copy_from_slice(&self.rs);
        out
    }

    /// Parses the reply.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let header = r.u8("header")?;
        if !(27..=42).contains(&header) {
            return Err(DecodeError::invalid(
                "header",
                format!("{header} not in 27..=42"),
            ));
        }
        let rs = r.array("signature")?;
        r.finish()?;
        Ok(MessageSignature { header, rs })
    }

    /// Recovery id (0..=3).
    pub fn recovery_id(&self) -> u8 {
        (self.header - 27) & 3
    }
}

/// A partial signature yielded by SIGN_PSBT: `<input index varint> <pubkey len> <pubkey
/// (+ tapleaf hash)> <signature>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YieldedSignature {
    /// Input index.
    pub input_index: u64,
    /// Compressed pubkey, x-only key, or x-only key || tapleaf hash.
    pub pubkey_augm: Vec<u8>,
    /// DER signature + sighash byte, or 64/65-byte Schnorr signature.
    pub signature: Vec<u8>,
}

impl YieldedSignature {
    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_varint(&mut out, self.input_index);
        out.push(self.pubkey_augm.len() as u8);
        out.extend_from_slice(&self.pubkey_augm);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses a yielded item (MuSig2 tags above 65535 are refused).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let input_index = r.varint("input index")?;
        if input_index > 0xFFFF {
            return Err(DecodeError::invalid(
                "input index",
                "MuSig2 tag not supported",
            ));
        }
        let pubkey_augm = r.u8_prefixed("pubkey")?.to_vec();
        let signature = r.rest().to_vec();
        if signature.is_empty() {
            return Err(DecodeError::invalid("signature", "empty"));
        }
        Ok(YieldedSignature {
            input_index,
            pubkey_augm,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_get_wallet_address() {
        // First APDU of a recorded Speculos session (LedgerHQ client test data,
        // default tr(@0/**) policy, display, receive index 0).
        let wire = hex::decode("e10300014601627535418bc03eeee2b62b3a0254dc0624881f8bc6fc20c4d3b2c1c4fc92989300000000000000000000000000000000000000000000000000000000000000000000000000").unwrap();
        let c = Command::decode(&wire).unwrap();
        let parsed = BitcoinCommand::from_command(&c).unwrap();
        let BitcoinCommand::GetWalletAddress {
            display,
            wallet_id,
            wallet_hmac,
            change,
            address_index,
        } = &parsed
        else {
            panic!("{parsed:?}")
        };
        assert!(*display && !*change && *address_index == 0 && *wallet_hmac == [0; 32]);
        assert_eq!(hex::encode(&wallet_id[..4]), "62753541");
        assert_eq!(parsed.to_command().encode().unwrap(), wire);
    }

    #[test]
    fn golden_get_master_fingerprint_and_xpub() {
        let c = BitcoinCommand::GetMasterFingerprint.to_command();
        assert_eq!(hex::encode(c.encode().unwrap()), "e105000100");
        let x = BitcoinCommand::GetExtendedPubkey {
            display: false,
            path: "m/84'/1'/0'".parse().unwrap(),
        };
        assert_eq!(
            hex::encode(x.to_command().encode().unwrap()),
            "e10000010e0003800000548000000180000000"
        );
        assert_eq!(
            parse_master_fingerprint(&hex::decode("f5acc2fd").unwrap()).unwrap(),
            [0xf5, 0xac, 0xc2, 0xfd]
        );
    }

    #[test]
    fn bad_p1p2_and_ins() {
        let mut c = BitcoinCommand::GetMasterFingerprint.to_command();
        c.p1 = 1;
        assert!(matches!(
            BitcoinCommand::from_command(&c),
            Err(DecodeError::Invalid { field: "P1/P2", .. })
        ));
        let c = Command::new(CLA_BITCOIN, 0x77, 0, 1, vec![]);
        assert!(matches!(
            BitcoinCommand::from_command(&c),
            Err(DecodeError::UnexpectedCommand { .. })
        ));
    }

    fn arb_hash() -> impl Strategy<Value = Hash> {
        any::<[u8; 32]>()
    }

    fn arb_cmd() -> impl Strategy<Value = BitcoinCommand> {
        let path = proptest::collection::vec(any::<u32>(), 0..=8).prop_map(Bip32Path);
        prop_oneof![
            (any::<bool>(), path.clone())
                .prop_map(|(display, path)| BitcoinCommand::GetExtendedPubkey { display, path }),
            proptest::collection::vec(any::<u8>(), 0..200)
                .prop_map(|policy| BitcoinCommand::RegisterWallet { policy }),
            (
                any::<bool>(),
                arb_hash(),
                arb_hash(),
                any::<bool>(),
                any::<u32>()
            )
                .prop_map(
                    |(display, wallet_id, wallet_hmac, change, address_index)| {
                        BitcoinCommand::GetWalletAddress {
                            display,
                            wallet_id,
                            wallet_hmac,
                            change,
                            address_index,
                        }
                    }
                ),
            (
                any::<u64>(),
                arb_hash(),
                arb_hash(),
                any::<u64>(),
                arb_hash(),
                any::<u64>(),
                arb_hash(),
                arb_hash()
            )
                .prop_map(|(s, k, v, ni, ir, no, or, id)| BitcoinCommand::SignPsbt {
                    global_map: MapCommitment {
                        size: s,
                        keys_root: k,
                        values_root: v
                    },
                    n_inputs: ni,
                    inputs_root: ir,
                    n_outputs: no,
                    outputs_root: or,
                    wallet_id: id,
                    wallet_hmac: [0; 32]
                }),
            Just(BitcoinCommand::GetMasterFingerprint),
            (path, any::<u64>(), arb_hash()).prop_map(|(path, message_length, merkle_root)| {
                BitcoinCommand::SignMessage {
                    path,
                    message_length,
                    merkle_root,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn roundtrip(cmd in arb_cmd()) {
            let wire = cmd.to_command().encode().unwrap();
            prop_assert_eq!(BitcoinCommand::from_command(&Command::decode(&wire).unwrap()).unwrap(), cmd);
        }

        #[test]
        fn garbage(b in proptest::collection::vec(any::<u8>(), 0..255), ins: u8, p2 in 0u8..2) {
            let _ = BitcoinCommand::from_command(&Command::new(CLA_BITCOIN, ins, 0, p2, b.clone()));
            let _ = MessageSignature::decode(&b);
            let _ = RegisteredWallet::decode(&b);
            let _ = YieldedSignature::decode(&b);
            let _ = parse_extended_pubkey(&b);
            let _ = parse_wallet_address(&b);
            let _ = parse_master_fingerprint(&b);
        }

        #[test]
        fn sig_roundtrip(header in 27u8..=42, rs in proptest::collection::vec(any::<u8>(), 64)) {
            let mut a = [0u8; 64];
            a.copy_from_slice(&rs);
            let s = MessageSignature { header, rs: a };
            prop_assert_eq!(MessageSignature::decode(&s.encode()).unwrap(), s);
        }
    }
}
