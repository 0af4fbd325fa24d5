package schema

import (
	"strconv"
	"time"

	"github.com/go-playground/validator/v10"
)

// OCPI 2.2.1 Tariff classes (mod_tariffs), stored and served as they are. Like the classes in
// classes.go they carry their JSON names and validator tags because they are wire formats; the
// rules that tags cannot express (minimum below maximum, reservation elements) are in
// TariffElementProblems.

// TariffType says which sessions a tariff is for; omitted, it is for every session.
type TariffType string

// TariffDimensionType is what a price component prices.
type TariffDimensionType string

// DayOfWeek is a weekday of a tariff restriction.
type DayOfWeek string

// ReservationRestrictionType marks a tariff element as the price of a reservation.
type ReservationRestrictionType string

// EnergySourceCategory is a kind of energy source of an energy mix.
type EnergySourceCategory string

// EnvironmentalImpactCategory is a kind of waste of an energy mix.
type EnvironmentalImpactCategory string

var (
	tariffTypes          = []TariffType{"AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR"}
	tariffDimensionTypes = []TariffDimensionType{"ENERGY", "FLAT", "PARKING_TIME", "TIME"}
	daysOfWeek           = []DayOfWeek{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"}
	reservationTypes     = []ReservationRestrictionType{"RESERVATION", "RESERVATION_EXPIRES"}
	energySources        = []EnergySourceCategory{"NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER"}
	environmentalImpacts = []EnvironmentalImpactCategory{"NUCLEAR_WASTE", "CARBON_DIOXIDE"}
)

// Price is an amount without VAT and, optionally, with it.
type Price struct {
	ExclVAT *float64 `json:"excl_vat" validate:"required,gte=0"`
	InclVAT *float64 `json:"incl_vat,omitempty" validate:"omitempty,gte=0"`
}

// PriceComponent prices one dimension: price per unit (kWh, hour, or the flat fee) without VAT,
// VAT in percent (absent: no VAT applies, unlike 0), and the step in which it is billed (Wh
// for ENERGY, seconds for TIME and PARKING_TIME).
type PriceComponent struct {
	Type     TariffDimensionType `json:"type" validate:"required,ocpi_tariff_dimension"`
	Price    *float64            `json:"price" validate:"required,gte=0"`
	VAT      *float64            `json:"vat,omitempty" validate:"omitempty,gte=0,lte=100"`
	StepSize *int                `json:"step_size" validate:"required,gte=0"`
}

// TariffRestrictions say when a tariff element applies; several restrictions all apply.
// Times of day and dates are local time at the location.
type TariffRestrictions struct {
	StartTime   *string                     `json:"start_time,omitempty" validate:"omitempty,ocpi_time_of_day"`
	EndTime     *string                     `json:"end_time,omitempty" validate:"omitempty,ocpi_time_of_day"`
	StartDate   *string                     `json:"start_date,omitempty" validate:"omitempty,ocpi_date"`
	EndDate     *string                     `json:"end_date,omitempty" validate:"omitempty,ocpi_date"`
	MinKWh      *float64                    `json:"min_kwh,omitempty" validate:"omitempty,gte=0"`
	MaxKWh      *float64                    `json:"max_kwh,omitempty" validate:"omitempty,gte=0"`
	MinCurrent  *float64                    `json:"min_current,omitempty" validate:"omitempty,gte=0"`
	MaxCurrent  *float64                    `json:"max_current,omitempty" validate:"omitempty,gte=0"`
	MinPower    *float64                    `json:"min_power,omitempty" validate:"omitempty,gte=0"`
	MaxPower    *float64                    `json:"max_power,omitempty" validate:"omitempty,gte=0"`
	MinDuration *int                        `json:"min_duration,omitempty" validate:"omitempty,gte=0"`
	MaxDuration *int                        `json:"max_duration,omitempty" validate:"omitempty,gte=0"`
	DayOfWeek   []DayOfWeek                 `json:"day_of_week,omitempty" validate:"omitempty,max=7,unique,dive,ocpi_day_of_week"`
	Reservation *ReservationRestrictionType `json:"reservation,omitempty" validate:"omitempty,ocpi_reservation"`
}

// TariffElement is a group of price components that apply under the same restrictions.
type TariffElement struct {
	PriceComponents []PriceComponent    `json:"price_components" validate:"required,min=1,max=100,dive"`
	Restrictions    *TariffRestrictions `json:"restrictions,omitempty" validate:"omitempty"`
}

// EnergyMix describes the energy supplied (with a location or a tariff).
type EnergyMix struct {
	IsGreenEnergy     *bool                 `json:"is_green_energy" validate:"required"`
	EnergySources     []EnergySource        `json:"energy_sources,omitempty" validate:"omitempty,max=100,dive"`
	EnvironImpact     []EnvironmentalImpact `json:"environ_impact,omitempty" validate:"omitempty,max=100,dive"`
	SupplierName      *string               `json:"supplier_name,omitempty" validate:"omitempty,max=64"`
	EnergyProductName *string               `json:"energy_product_name,omitempty" validate:"omitempty,max=64"`
}

// EnergySource is the share (0 to 100 percent) of one source in an energy mix.
type EnergySource struct {
	Source     EnergySourceCategory `json:"source" validate:"required,ocpi_energy_source"`
	Percentage *float64             `json:"percentage" validate:"required,gte=0,lte=100"`
}

// EnvironmentalImpact is the waste per kWh (g/kWh) of one category.
type EnvironmentalImpact struct {
	Category EnvironmentalImpactCategory `json:"category" validate:"required,ocpi_environmental_impact"`
	Amount   *float64                    `json:"amount" validate:"required,gte=0"`
}

// Tags of the tariff classes.
const (
	TagTariffType          = "ocpi_tariff_type"
	TagTariffDimension     = "ocpi_tariff_dimension"
	TagDayOfWeek           = "ocpi_day_of_week"
	TagReservation         = "ocpi_reservation"
	TagEnergySource        = "ocpi_energy_source"
	TagEnvironmentalImpact = "ocpi_environmental_impact"
	TagCurrency            = "currency"
	// TagTimeOfDay is OCPI's restriction time, "HH:MM" from 00:00 to 23:59: unlike opening
	// hours (ocpi_hour_minute) there is no 24:00, the official pattern refuses it.
	TagTimeOfDay = "ocpi_time_of_day"
	// TagDate is a calendar date "YYYY-MM-DD" that exists.
	TagDate = "ocpi_date"
)

// RegisterTariffValidations adds the tags of the tariff classes to v; call it next to
// RegisterValidations.
func RegisterTariffValidations(v *validator.Validate) error {
	for tag, rule := range map[string]validator.Func{
		TagTariffType:          enumRule(tariffTypes),
		TagTariffDimension:     enumRule(tariffDimensionTypes),
		TagDayOfWeek:           enumRule(daysOfWeek),
		TagReservation:         enumRule(reservationTypes),
		TagEnergySource:        enumRule(energySources),
		TagEnvironmentalImpact: enumRule(environmentalImpacts),
		TagCurrency:            stringRule(ValidCurrency),
		TagTimeOfDay:           stringRule(validTimeOfDay),
		TagDate:                stringRule(ValidDate),
	} {
		if err := v.RegisterValidation(tag, rule); err != nil {
			return err
		}
	}
	tagMessages[TagTariffType] = "must be one of the OCPI 2.2.1 TariffType values: " + joinValues(tariffTypes) + " (case-sensitive)"
	tagMessages[TagTariffDimension] = "must be one of the OCPI 2.2.1 TariffDimensionType values: " + joinValues(tariffDimensionTypes) + " (case-sensitive)"
	tagMessages[TagDayOfWeek] = "must be one of " + joinValues(daysOfWeek) + " (case-sensitive)"
	tagMessages[TagReservation] = "must be one of " + joinValues(reservationTypes) + " (case-sensitive)"
	tagMessages[TagEnergySource] = "must be one of the OCPI 2.2.1 EnergySourceCategory values: " + joinValues(energySources) + " (case-sensitive)"
	tagMessages[TagEnvironmentalImpact] = "must be one of " + joinValues(environmentalImpacts) + " (case-sensitive)"
	tagMessages[TagCurrency] = "must be an ISO 4217 currency code in upper case (e.g. EUR)"
	tagMessages[TagTimeOfDay] = "must be a time of day as HH:MM from 00:00 to 23:59 (e.g. 08:30; use 00:00 for the end of the day)"
	tagMessages[TagDate] = "must be a date as YYYY-MM-DD (e.g. 2026-12-24)"
	return nil
}

func validTimeOfDay(s string) bool { return validHourMinute(s) && s != "24:00" }

// ValidDate reports whether s is a calendar date written YYYY-MM-DD.
func ValidDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil && len(s) == 10
}

// ValidCurrency reports whether s is an active ISO 4217 alphabetic currency code.
func ValidCurrency(s string) bool { return isOneOf(currencies, s) }

// currencies are the active ISO 4217 alphabetic codes (list one, 2024), funds and precious
// metals left out: a tariff is priced in money a driver pays.
var currencies = []string{
	"AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
	"BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
	"CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB",
	"EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG",
	"HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF",
	"KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA",
	"MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO",
	"NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
	"RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN",
	"SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX",
	"USD", "UYU", "UZS", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW",
	"ZWG",
}

// TariffElementProblems checks what the tags of a tariff element cannot: each minimum below
// its maximum (a restriction whose window is empty never applies), start_date before end_date
// (end_date is exclusive), and a reservation element pricing only FLAT and TIME, as OCPI
// allows. Problems are named relative to the element ("restrictions.max_kwh").
func TariffElementProblems(e TariffElement) []FieldProblem {
	var out []FieldProblem
	if r := e.Restrictions; r != nil {
		for _, p := range []struct {
			min, max   *float64
			minN, maxN string
		}{
			{r.MinKWh, r.MaxKWh, "min_kwh", "max_kwh"},
			{r.MinCurrent, r.MaxCurrent, "min_current", "max_current"},
			{r.MinPower, r.MaxPower, "min_power", "max_power"},
		} {
			if p.min != nil && p.max != nil && *p.max <= *p.min {
				out = append(out, FieldProblem{Field: "restrictions." + p.maxN, Message: "must be greater than " + p.minN})
			}
		}
		if r.MinDuration != nil && r.MaxDuration != nil && *r.MaxDuration <= *r.MinDuration {
			out = append(out, FieldProblem{Field: "restrictions.max_duration", Message: "must be greater than min_duration"})
		}
		if r.StartDate != nil && r.EndDate != nil && ValidDate(*r.StartDate) && ValidDate(*r.EndDate) && *r.EndDate <= *r.StartDate {
			out = append(out, FieldProblem{Field: "restrictions.end_date", Message: "must be after start_date (end_date is exclusive)"})
		}
		if r.Reservation != nil {
			for i, pc := range e.PriceComponents {
				if pc.Type != "FLAT" && pc.Type != "TIME" {
					out = append(out, FieldProblem{Field: "price_components[" + strconv.Itoa(i) + "].type",
						Message: "must be FLAT or TIME in a reservation element (restrictions.reservation)"})
				}
			}
		}
	}
	return out
}

// EnergyMixProblems checks that the shares of an energy mix's sources add up to at most 100
// percent. Problems are named relative to the energy mix.
func EnergyMixProblems(m EnergyMix) []FieldProblem {
	var sum float64
	for _, s := range m.EnergySources {
		if s.Percentage != nil {
			sum += *s.Percentage
		}
	}
	if sum > 100.0001 {
		return []FieldProblem{{Field: "energy_sources", Message: "the percentages add up to more than 100"}}
	}
	return nil
}
