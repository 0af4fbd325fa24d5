package schema

import "github.com/go-playground/validator/v10"

// OCPI 2.2.1 value classes that the registry stores and serves as they are. They carry their
// JSON names and validation tags because they are wire formats defined by the spec; the
// feature packages embed them in their request and response bodies.

// GeoLocation is a point: latitude and longitude as decimal strings with 5 to 7 decimals.
type GeoLocation struct {
	Latitude  string `json:"latitude" validate:"required,ocpi_latitude"`
	Longitude string `json:"longitude" validate:"required,ocpi_longitude"`
}

// AdditionalGeoLocation is a named point (an EVSE's or a related location's).
type AdditionalGeoLocation struct {
	Latitude  string       `json:"latitude" validate:"required,ocpi_latitude"`
	Longitude string       `json:"longitude" validate:"required,ocpi_longitude"`
	Name      *DisplayText `json:"name,omitempty" validate:"omitempty"`
}

// DisplayText is a text in one language (ISO 639-1 code).
type DisplayText struct {
	Language string `json:"language" validate:"required,len=2"`
	Text     string `json:"text" validate:"required,max=512"`
}

// Image is a picture reference (logo, photo).
type Image struct {
	URL       string  `json:"url" validate:"required,url"`
	Thumbnail *string `json:"thumbnail,omitempty" validate:"omitempty,url"`
	Category  string  `json:"category" validate:"required,oneof=CHARGER ENTRANCE LOCATION NETWORK OPERATOR OTHER OWNER"`
	Type      string  `json:"type" validate:"required,max=4"`
	Width     *int    `json:"width,omitempty" validate:"omitempty,gt=0,lte=99999"`
	Height    *int    `json:"height,omitempty" validate:"omitempty,gt=0,lte=99999"`
}

// BusinessDetails names an operator, sub-operator or owner.
type BusinessDetails struct {
	Name    string  `json:"name" validate:"required,max=100"`
	Website *string `json:"website,omitempty" validate:"omitempty,url"`
	Logo    *Image  `json:"logo,omitempty" validate:"omitempty"`
}

// Hours are the opening times of a location. Beyond the tags: regular_hours must have at
// least one period when twentyfourseven is false (OCPI 2.2.1, Hours), checked by the struct
// rule RegisterClassValidations adds.
type Hours struct {
	TwentyFourSeven     bool                `json:"twentyfourseven"`
	RegularHours        []RegularHours      `json:"regular_hours,omitempty" validate:"omitempty,max=100,dive"`
	ExceptionalOpenings []ExceptionalPeriod `json:"exceptional_openings,omitempty" validate:"omitempty,max=100,dive"`
	ExceptionalClosings []ExceptionalPeriod `json:"exceptional_closings,omitempty" validate:"omitempty,max=100,dive"`
}

// RegularHours is one weekly opening period; weekday 1 is Monday. period_end must be later
// than period_begin on the same day (a period over midnight is two periods), checked by the
// struct rule RegisterClassValidations adds.
type RegularHours struct {
	Weekday     int    `json:"weekday" validate:"required,gte=1,lte=7"`
	PeriodBegin string `json:"period_begin" validate:"required,ocpi_hour_minute"`
	PeriodEnd   string `json:"period_end" validate:"required,ocpi_hour_minute"`
}

// ExceptionalPeriod is a one-off opening or closing.
type ExceptionalPeriod struct {
	PeriodBegin string `json:"period_begin" validate:"required,ocpi_datetime"`
	PeriodEnd   string `json:"period_end" validate:"required,ocpi_datetime"`
}

// StatusSchedule is a planned EVSE status.
type StatusSchedule struct {
	PeriodBegin string  `json:"period_begin" validate:"required,ocpi_datetime"`
	PeriodEnd   *string `json:"period_end,omitempty" validate:"omitempty,ocpi_datetime"`
	Status      Status  `json:"status" validate:"required,ocpi_status"`
}

// Tags for the value classes above.
const (
	TagHourMinute = "ocpi_hour_minute" // "HH:MM", 00:00 to 23:59 (OCPI's pattern: no 24:00)
	TagDateTime   = "ocpi_datetime"    // an OCPI DateTime (RFC 3339; no zone means UTC)
	// The struct rules report these tags.
	TagPeriodEndAfterBegin  = "ocpi_period_end_after_begin"
	TagRegularHoursRequired = "ocpi_regular_hours_required"
)

// RegisterClassValidations adds the tags the value classes use to v; call it next to
// RegisterValidations.
func RegisterClassValidations(v *validator.Validate) error {
	if err := v.RegisterValidation(TagHourMinute, func(fl validator.FieldLevel) bool {
		return validHourMinute(fl.Field().String())
	}); err != nil {
		return err
	}
	if err := v.RegisterValidation(TagDateTime, func(fl validator.FieldLevel) bool {
		_, err := ParseDateTime(fl.Field().String())
		return err == nil
	}); err != nil {
		return err
	}
	v.RegisterStructValidation(func(sl validator.StructLevel) {
		h := sl.Current().Interface().(Hours)
		if !h.TwentyFourSeven && len(h.RegularHours) == 0 {
			sl.ReportError(h.RegularHours, "regular_hours", "RegularHours", TagRegularHoursRequired, "")
		}
	}, Hours{})
	v.RegisterStructValidation(func(sl validator.StructLevel) {
		r := sl.Current().Interface().(RegularHours)
		if validHourMinute(r.PeriodBegin) && validHourMinute(r.PeriodEnd) && r.PeriodEnd <= r.PeriodBegin {
			sl.ReportError(r.PeriodEnd, "period_end", "PeriodEnd", TagPeriodEndAfterBegin, "")
		}
	}, RegularHours{})
	tagMessages[TagHourMinute] = "must be a time of day as HH:MM from 00:00 to 23:59 (e.g. 08:30; a period to midnight ends at 23:59)"
	tagMessages[TagDateTime] = "must be an RFC 3339 date-time (e.g. 2026-01-31T12:00:00Z)"
	tagMessages[TagPeriodEndAfterBegin] = "must be later than period_begin on the same day (split a period over midnight into two)"
	tagMessages[TagRegularHoursRequired] = "must have at least one period when twentyfourseven is false"
	return nil
}

func validHourMinute(s string) bool {
	if len(s) != 5 || s[2] != ':' {
		return false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	h, m := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0')
	return h < 24 && m < 60
}
