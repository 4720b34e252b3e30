//! Helpers shared by Weft's conformance tests: locating `../shared/fixtures`
//! from the repository root and reading hex/JSON fixture files.
