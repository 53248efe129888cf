//! token-conformance: a contract-test and conformance harness for the Token Authentication API.
