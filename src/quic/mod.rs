//! QUIC: datagrams in, CRYPTO bytes out.
pub mod crypto;
pub mod frame;
pub mod keys;
pub mod packet;
#[cfg(test)]
pub(crate) mod testdata;
pub mod version;
pub mod wire;
