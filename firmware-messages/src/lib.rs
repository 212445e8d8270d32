//! Sans-IO Ledger app wire messages.
