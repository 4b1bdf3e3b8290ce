package store

// ColumnExists exposes columnExists to the external integration tests.
var ColumnExists = columnExists
