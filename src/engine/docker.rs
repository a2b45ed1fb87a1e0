//! Docker engine through bollard.
