//! Integration tests of the emulator over real HTTP (reqwest against a
//! server on 127.0.0.1 with port 0).

mod aksk;
mod archive;
mod binary;
mod common;
mod feed;
mod iam;
mod otc_sdk;
mod paging;
mod queries;
mod sdk_facts;
