// Package templates owns hardware templates: the EVSE and connector layout of a charge-station
// model, from which stations are created. A station copies the template when it is created, so
// changing or deleting a template never changes existing stations. Store knows the SQL,
// Service opens the transactions (PUT under a row lock), Handler serves /api/v1/templates.
package templates
