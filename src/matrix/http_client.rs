//! HTTP client placeholder
