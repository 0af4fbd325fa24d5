// Package files keeps files in PostgreSQL: firmware images that operators upload (package
// firmware) and log files that stations upload (diagnostics, GET
// /chargestations/{id}/log-files). Keeping them in the database means every
// evroam node serves every file with nothing new to run or share.
//
// A file is a row of files (name, size, sha256) and its bytes, rows of file_chunks of
// ChunkSize bytes (the last one shorter). Writer streams a body into chunks and Reader reads
// them back one chunk at a time, as an io.ReadSeeker that http.ServeContent serves with HTTP
// Range: neither ever holds more than one chunk, whatever the file's size.
//
// Stations fetch firmware and upload log files without an API key, at URLs under
// EVROAM_PUBLIC_URL that carry an expiry and an HMAC of EVROAM_SECRET_KEY (Signer):
// unguessable, valid on every node that shares the key, and useless once expired. An upload
// URL names its station (its files are the station's) and takes one upload.
package files
