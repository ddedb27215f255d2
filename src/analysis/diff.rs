//! `diff`: what changes between two topologies (filled in below).
