//! In-sandbox TCP (127.0.0.1) → Unix socket bridge to the egress proxy. Owner: egress work.
