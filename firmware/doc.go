// Package firmware keeps the firmware images operators upload for their charge stations
// (POST/GET/DELETE /api/v1/firmware): what each image is for (vendor, model, version), the
// 2.0.1 signed-firmware fields, and its bytes in the file store (package files). A firmware
// belongs to the network of the key that uploaded it and is visible to that network and the
// networks above it, like every registry object.
//
// Stations never use the API: the firmware/update command (package commands) gives them a
// signed, expiring URL of the file (files.Signer).
package firmware
