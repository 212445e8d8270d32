//! Following Bitcoin: the snapshot's coins, block by block through the shared block walk
//! ([`crate::blocks`]): a followed coin spent is an outflow naming the spending transaction,
//! an output paying a reserve address is an inflow (and is followed from then on).

use super::ledger::BlockUpdate;
use crate::blocks;
use crate::endpoints::NodeKind;
use crate::rpc::{Client, NodeError};

/// One Bitcoin node followed.
#[derive(Debug, Clone)]
pub struct BtcFollower {
    /// The node.
    pub client: Client,
    /// Bitcoin Core or Esplora.
    pub kind: NodeKind,
}

impl BtcFollower {
    /// The node's tip height.
    pub async fn tip(&self) -> Result<u64, NodeError> {
        blocks::tip_height(self.kind, &self.client).await
    }

    /// The hash of the main-chain block at `height`.
    pub async fn hash_at(&self, height: u64) -> Result<Option<String>, NodeError> {
        crate::bitcoin::block_hash(self.kind, &self.client, height).await
    }

    /// The main-chain block at `height` with its transactions.
    pub async fn block(&self, height: u64) -> Result<Option<BlockUpdate>, NodeError> {
        let Some(b) = blocks::block_at(self.kind, &self.client, height).await? else {
            return Ok(None);
        };
        if b.height != height {
            return Err(NodeError::Garbage {
                endpoint: self.client.endpoint().into(),
                detail: format!(
                    "asked for the block at height {height}, got {} at {}",
                    b.hash, b.height
                ),
            });
        }
        Ok(Some(BlockUpdate {
            height,
            hash: b.hash,
            parent: b.parent,
            txs: b.txs,
            ..BlockUpdate::default()
        }))
    }
}
