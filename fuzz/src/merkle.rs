//! Merkle trees, proofs and merkleized maps, on both sides of the interrupt loop: the host's
//! proofs verify on the device for any list, and the device-side checks never panic (or
//! hang) on whatever sizes, indices and answers a lying host sends.

use crate::input::Input;
use firmware_messages::apdu::Command;
use firmware_messages::bitcoin::device::{DeviceFlow, DeviceSession, FlowError};
use firmware_messages::bitcoin::host::HostInterpreter;
use firmware_messages::bitcoin::merkle::{
    leaf_hash, proof_len, root_from_proof, MapCommitment, MerkleTree, MerkleizedMap,
};

/// Runs a device handler against an honest host until it completes.
fn drive<T>(
    host: &mut HostInterpreter,
    mut handler: impl FnMut(&mut DeviceFlow<'_>) -> Result<T, FlowError>,
) -> Result<T, FlowError> {
    let mut s = DeviceSession::new(Command::new(0xE1, 0x04, 0, 1, vec![]));
    for _ in 0..10_000 {
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
    panic!("the device handler asks forever");
}

/// First byte chooses: an honest host and device over fuzzed lists and maps (everything
/// read back exactly), or a lying host (fuzzed sizes, indices, proofs and answers).
pub fn merkle(data: &[u8]) {
    let mut input = Input::new(data);
    match input.u8() % 3 {
        0 => honest(&mut input),
        1 => proofs(&mut input),
        _ => lying_host(&mut input),
    }
}

fn honest(input: &mut Input<'_>) {
    let n = (input.u8() % 24) as usize;
    let elements: Vec<Vec<u8>> = (0..n)
        .map(|_| {
            // Long elements too: preimages past one APDU go through GET_MORE_ELEMENTS.
            let repeat = 1 + input.u8() as usize % 4;
            input.piece().repeat(repeat)
        })
        .collect();
    let mut host = HostInterpreter::new();
    let root = host.add_known_list(&elements);
    let size = n as u64;
    let got = drive(&mut host, |f| {
        (0..size)
            .map(|i| f.get_leaf_element(&root, size, i))
            .collect::<Result<Vec<_>, _>>()
    })
    .expect("an honest host's list reads back");
    assert_eq!(got, elements);
    for (i, e) in elements.iter().enumerate() {
        let idx = drive(&mut host, |f| f.get_leaf_index(&root, size, &leaf_hash(e)))
            .expect("an honest host finds its leaves");
        // Equal elements: the first one's index.
        let first = elements.iter().position(|x| x == e).expect("present");
        assert_eq!(idx, Some(first as u64), "leaf {i}");
    }
    // A map of the same elements as keys (deduplicated) and values.
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (i, e) in elements.iter().enumerate() {
        if !pairs.iter().any(|(k, _)| k == e) {
            pairs.push((e.clone(), vec![i as u8; i]));
        }
    }
    let map = MerkleizedMap::new(pairs.clone());
    let c = host.add_known_map(&map);
    assert_eq!(MapCommitment::decode(&c.encode()), Ok(c));
    for (k, v) in &pairs {
        let got = drive(&mut host, |f| f.get_map_value(&c, k)).expect("map value");
        assert_eq!(got.as_ref(), Some(v), "map value");
    }
}

fn proofs(input: &mut Input<'_>) {
    let n = 1 + (input.u8() as usize % 40);
    let leaves: Vec<[u8; 32]> = (0..n).map(|_| input.array()).collect();
    let tree = MerkleTree::from_leaf_hashes(leaves.clone());
    for (i, leaf) in leaves.iter().enumerate() {
        let proof = tree.proof(i).expect("in range");
        assert_eq!(proof_len(n, i), Some(proof.len()));
        assert_eq!(root_from_proof(n, i, leaf, &proof), Some(tree.root()));
    }
    assert_eq!(tree.proof(n), None);
    // Any size and index (the device takes them from the host's commitments).
    let size = input.u64() as usize;
    let index = input.u64() as usize;
    let len = proof_len(size, index);
    if let Some(l) = len {
        assert!(l <= 64, "a proof longer than 64 hashes");
        let proof: Vec<[u8; 32]> = (0..l).map(|_| input.array()).collect();
        assert!(root_from_proof(size, index, &input.array(), &proof).is_some());
    } else {
        assert!(index >= size, "no proof for an index in range");
    }
}

fn lying_host(input: &mut Input<'_>) {
    let root: [u8; 32] = input.array();
    let size = input.u64();
    let index = input.u64();
    let which = input.u8();
    let mut answers = Vec::new();
    while !input.is_empty() {
        answers.push(input.piece().to_vec());
    }
    let mut s = DeviceSession::new(Command::new(0xE1, 0x04, 0, 1, vec![]));
    for a in answers {
        s.push_answer(a);
    }
    let map = MapCommitment {
        size,
        keys_root: root,
        values_root: root,
    };
    let mut f = s.flow();
    let _ = match which % 5 {
        0 => f.get_leaf_hash(&root, size, index).map(|_| ()),
        1 => f.get_leaf_element(&root, size, index).map(|_| ()),
        2 => f.get_leaf_index(&root, size, &root).map(|_| ()),
        3 => f.get_map_commitment(&root, size, index).map(|_| ()),
        _ => f.get_map_value(&map, &index.to_le_bytes()).map(|_| ()),
    };
}
