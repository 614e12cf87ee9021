//! Wire format: AWS Query request decoding and XML/JSON response encoding.

pub mod query;
pub mod response;
