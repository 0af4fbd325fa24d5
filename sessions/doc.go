// Package sessions keeps the charging transactions stations report over OCPP (1.6
// StartTransaction/StopTransaction, 2.0.1 TransactionEvent) and the latest meter value per
// EVSE, measurand and phase. OCPP 1.6 transaction ids are made here (the central system
// makes them); 2.0.1 stations make their own.
package sessions
