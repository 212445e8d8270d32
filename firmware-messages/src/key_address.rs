//! The get-address reply layout the Ethereum and Tron apps share: `65 ‖ uncompressed key ‖
//! address length ‖ ASCII address ‖ [32-byte chain code]`. Each app checks its own address
//! form.

use crate::codec::{utf8, DecodeError, Reader};

/// The fields of a get-address reply.
pub(crate) struct KeyAddress {
    pub public_key: Vec<u8>,
    pub address: String,
    pub chain_code: Option<[u8; 32]>,
}

/// Wire form of a get-address reply.
pub(crate) fn encode(public_key: &[u8], address: &str, chain_code: Option<[u8; 32]>) -> Vec<u8> {
    let mut out = vec![public_key.len() as u8];
    out.extend_from_slice(public_key);
    out.push(address.len() as u8);
    out.extend_from_slice(address.as_bytes());
    if let Some(cc) = chain_code {
        out.extend_from_slice(&cc);
    }
    out
}

/// Parses a get-address reply: a 65-byte uncompressed key, an address that `check_address`
/// accepts (its `Err` is the reason given for the `address` field), and a chain code if 32
/// bytes follow.
pub(crate) fn decode(
    data: &[u8],
    check_address: impl Fn(&str) -> Result<(), String>,
) -> Result<KeyAddress, DecodeError> {
    let mut r = Reader::new(data);
    let public_key = r.u8_prefixed("public key")?.to_vec();
    if public_key.len() != 65 || public_key[0] != 0x04 {
        return Err(DecodeError::invalid(
            "public key",
            "expected 65-byte uncompressed key",
        ));
    }
    let address = utf8(r.u8_prefixed("address")?, "address")?;
    check_address(&address).map_err(|why| DecodeError::invalid("address", why))?;
    let chain_code = if r.remaining() > 0 {
        Some(r.array::<32>("chain code")?)
    } else {
        None
    };
    r.finish()?;
    Ok(KeyAddress {
        public_key,
        address,
        chain_code,
    })
}
