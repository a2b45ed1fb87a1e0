//! In-memory engine for unit tests.
