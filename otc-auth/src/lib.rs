//! otc-auth
#![deny(missing_docs)]
