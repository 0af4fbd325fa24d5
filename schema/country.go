package schema

import "sync"

// countries is ISO 3166-1: every officially assigned alpha-2 code with its
// alpha-3 code (249 entries, as in the IANA tz database's iso3166.tab),
// sorted by alpha-2. User-assigned codes such as XK are not included.
var countries = [...]struct{ alpha2, alpha3 string }{
	{"AD", "AND"}, // Andorra
	{"AE", "ARE"}, // United Arab Emirates
	{"AF", "AFG"}, // Afghanistan
	{"AG", "ATG"}, // Antigua & Barbuda
	{"AI", "AIA"}, // Anguilla
	{"AL", "ALB"}, // Albania
	{"AM", "ARM"}, // Armenia
	{"AO", "AGO"}, // Angola
	{"AQ", "ATA"}, // Antarctica
	{"AR", "ARG"}, // Argentina
	{"AS", "ASM"}, // Samoa (American)
	{"AT", "AUT"}, // Austria
	{"AU", "AUS"}, // Australia
	{"AW", "ABW"}, // Aruba
	{"AX", "ALA"}, // Åland Islands
	{"AZ", "AZE"}, // Azerbaijan
	{"BA", "BIH"}, // Bosnia & Herzegovina
	{"BB", "BRB"}, // Barbados
	{"BD", "BGD"}, // Bangladesh
	{"BE", "BEL"}, // Belgium
	{"BF", "BFA"}, // Burkina Faso
	{"BG", "BGR"}, // Bulgaria
	{"BH", "BHR"}, // Bahrain
	{"BI", "BDI"}, // Burundi
	{"BJ", "BEN"}, // Benin
	{"BL", "BLM"}, // St Barthelemy
	{"BM", "BMU"}, // Bermuda
	{"BN", "BRN"}, // Brunei
	{"BO", "BOL"}, // Bolivia
	{"BQ", "BES"}, // Caribbean NL
	{"BR", "BRA"}, // Brazil
	{"BS", "BHS"}, // Bahamas
	{"BT", "BTN"}, // Bhutan
	{"BV", "BVT"}, // Bouvet Island
	{"BW", "BWA"}, // Botswana
	{"BY", "BLR"}, // Belarus
	{"BZ", "BLZ"}, // Belize
	{"CA", "CAN"}, // Canada
	{"CC", "CCK"}, // Cocos (Keeling) Islands
	{"CD", "COD"}, // Congo (Dem. Rep.)
	{"CF", "CAF"}, // Central African Rep.
	{"CG", "COG"}, // Congo (Rep.)
	{"CH", "CHE"}, // Switzerland
	{"CI", "CIV"}, // Côte d'Ivoire
	{"CK", "COK"}, // Cook Islands
	{"CL", "CHL"}, // Chile
	{"CM", "CMR"}, // Cameroon
	{"CN", "CHN"}, // China
	{"CO", "COL"}, // Colombia
	{"CR", "CRI"}, // Costa Rica
	{"CU", "CUB"}, // Cuba
	{"CV", "CPV"}, // Cape Verde
	{"CW", "CUW"}, // Curaçao
	{"CX", "CXR"}, // Christmas Island
	{"CY", "CYP"}, // Cyprus
	{"CZ", "CZE"}, // Czech Republic
	{"DE", "DEU"}, // Germany
	{"DJ", "DJI"}, // Djibouti
	{"DK", "DNK"}, // Denmark
	{"DM", "DMA"}, // Dominica
	{"DO", "DOM"}, // Dominican Republic
	{"DZ", "DZA"}, // Algeria
	{"EC", "ECU"}, // Ecuador
	{"EE", "EST"}, // Estonia
	{"EG", "EGY"}, // Egypt
	{"EH", "ESH"}, // Western Sahara
	{"ER", "ERI"}, // Eritrea
	{"ES", "ESP"}, // Spain
	{"ET", "ETH"}, // Ethiopia
	{"FI", "FIN"}, // Finland
	{"FJ", "FJI"}, // Fiji
	{"FK", "FLK"}, // Falkland Islands
	{"FM", "FSM"}, // Micronesia
	{"FO", "FRO"}, // Faroe Islands
	{"FR", "FRA"}, // France
	{"GA", "GAB"}, // Gabon
	{"GB", "GBR"}, // Britain (UK)
	{"GD", "GRD"}, // Grenada
	{"GE", "GEO"}, // Georgia
	{"GF", "GUF"}, // French Guiana
	{"GG", "GGY"}, // Guernsey
	{"GH", "GHA"}, // Ghana
	{"GI", "GIB"}, // Gibraltar
	{"GL", "GRL"}, // Greenland
	{"GM", "GMB"}, // Gambia
	{"GN", "GIN"}, // Guinea
	{"GP", "GLP"}, // Guadeloupe
	{"GQ", "GNQ"}, // Equatorial Guinea
	{"GR", "GRC"}, // Greece
	{"GS", "SGS"}, // South Georgia & the South Sandwich Islands
	{"GT", "GTM"}, // Guatemala
	{"GU", "GUM"}, // Guam
	{"GW", "GNB"}, // Guinea-Bissau
	{"GY", "GUY"}, // Guyana
	{"HK", "HKG"}, // Hong Kong
	{"HM", "HMD"}, // Heard Island & McDonald Islands
	{"HN", "HND"}, // Honduras
	{"HR", "HRV"}, // Croatia
	{"HT", "HTI"}, // Haiti
	{"HU", "HUN"}, // Hungary
	{"ID", "IDN"}, // Indonesia
	{"IE", "IRL"}, // Ireland
	{"IL", "ISR"}, // Israel
	{"IM", "IMN"}, // Isle of Man
	{"IN", "IND"}, // India
	{"IO", "IOT"}, // British Indian Ocean Territory
	{"IQ", "IRQ"}, // Iraq
	{"IR", "IRN"}, // Iran
	{"IS", "ISL"}, // Iceland
	{"IT", "ITA"}, // Italy
	{"JE", "JEY"}, // Jersey
	{"JM", "JAM"}, // Jamaica
	{"JO", "JOR"}, // Jordan
	{"JP", "JPN"}, // Japan
	{"KE", "KEN"}, // Kenya
	{"KG", "KGZ"}, // Kyrgyzstan
	{"KH", "KHM"}, // Cambodia
	{"KI", "KIR"}, // Kiribati
	{"KM", "COM"}, // Comoros
	{"KN", "KNA"}, // St Kitts & Nevis
	{"KP", "PRK"}, // Korea (North)
	{"KR", "KOR"}, // Korea (South)
	{"KW", "KWT"}, // Kuwait
	{"KY", "CYM"}, // Cayman Islands
	{"KZ", "KAZ"}, // Kazakhstan
	{"LA", "LAO"}, // Laos
	{"LB", "LBN"}, // Lebanon
	{"LC", "LCA"}, // St Lucia
	{"LI", "LIE"}, // Liechtenstein
	{"LK", "LKA"}, // Sri Lanka
	{"LR", "LBR"}, // Liberia
	{"LS", "LSO"}, // Lesotho
	{"LT", "LTU"}, // Lithuania
	{"LU", "LUX"}, // Luxembourg
	{"LV", "LVA"}, // Latvia
	{"LY", "LBY"}, // Libya
	{"MA", "MAR"}, // Morocco
	{"MC", "MCO"}, // Monaco
	{"MD", "MDA"}, // Moldova
	{"ME", "MNE"}, // Montenegro
	{"MF", "MAF"}, // St Martin (French)
	{"MG", "MDG"}, // Madagascar
	{"MH", "MHL"}, // Marshall Islands
	{"MK", "MKD"}, // North Macedonia
	{"ML", "MLI"}, // Mali
	{"MM", "MMR"}, // Myanmar (Burma)
	{"MN", "MNG"}, // Mongolia
	{"MO", "MAC"}, // Macau
	{"MP", "MNP"}, // Northern Mariana Islands
	{"MQ", "MTQ"}, // Martinique
	{"MR", "MRT"}, // Mauritania
	{"MS", "MSR"}, // Montserrat
	{"MT", "MLT"}, // Malta
	{"MU", "MUS"}, // Mauritius
	{"MV", "MDV"}, // Maldives
	{"MW", "MWI"}, // Malawi
	{"MX", "MEX"}, // Mexico
	{"MY", "MYS"}, // Malaysia
	{"MZ", "MOZ"}, // Mozambique
	{"NA", "NAM"}, // Namibia
	{"NC", "NCL"}, // New Caledonia
	{"NE", "NER"}, // Niger
	{"NF", "NFK"}, // Norfolk Island
	{"NG", "NGA"}, // Nigeria
	{"NI", "NIC"}, // Nicaragua
	{"NL", "NLD"}, // Netherlands
	{"NO", "NOR"}, // Norway
	{"NP", "NPL"}, // Nepal
	{"NR", "NRU"}, // Nauru
	{"NU", "NIU"}, // Niue
	{"NZ", "NZL"}, // New Zealand
	{"OM", "OMN"}, // Oman
	{"PA", "PAN"}, // Panama
	{"PE", "PER"}, // Peru
	{"PF", "PYF"}, // French Polynesia
	{"PG", "PNG"}, // Papua New Guinea
	{"PH", "PHL"}, // Philippines
	{"PK", "PAK"}, // Pakistan
	{"PL", "POL"}, // Poland
	{"PM", "SPM"}, // St Pierre & Miquelon
	{"PN", "PCN"}, // Pitcairn
	{"PR", "PRI"}, // Puerto Rico
	{"PS", "PSE"}, // Palestine
	{"PT", "PRT"}, // Portugal
	{"PW", "PLW"}, // Palau
	{"PY", "PRY"}, // Paraguay
	{"QA", "QAT"}, // Qatar
	{"RE", "REU"}, // Réunion
	{"RO", "ROU"}, // Romania
	{"RS", "SRB"}, // Serbia
	{"RU", "RUS"}, // Russia
	{"RW", "RWA"}, // Rwanda
	{"SA", "SAU"}, // Saudi Arabia
	{"SB", "SLB"}, // Solomon Islands
	{"SC", "SYC"}, // Seychelles
	{"SD", "SDN"}, // Sudan
	{"SE", "SWE"}, // Sweden
	{"SG", "SGP"}, // Singapore
	{"SH", "SHN"}, // St Helena
	{"SI", "SVN"}, // Slovenia
	{"SJ", "SJM"}, // Svalbard & Jan Mayen
	{"SK", "SVK"}, // Slovakia
	{"SL", "SLE"}, // Sierra Leone
	{"SM", "SMR"}, // San Marino
	{"SN", "SEN"}, // Senegal
	{"SO", "SOM"}, // Somalia
	{"SR", "SUR"}, // Suriname
	{"SS", "SSD"}, // South Sudan
	{"ST", "STP"}, // Sao Tome & Principe
	{"SV", "SLV"}, // El Salvador
	{"SX", "SXM"}, // St Maarten (Dutch)
	{"SY", "SYR"}, // Syria
	{"SZ", "SWZ"}, // Eswatini (Swaziland)
	{"TC", "TCA"}, // Turks & Caicos Is
	{"TD", "TCD"}, // Chad
	{"TF", "ATF"}, // French S. Terr.
	{"TG", "TGO"}, // Togo
	{"TH", "THA"}, // Thailand
	{"TJ", "TJK"}, // Tajikistan
	{"TK", "TKL"}, // Tokelau
	{"TL", "TLS"}, // East Timor
	{"TM", "TKM"}, // Turkmenistan
	{"TN", "TUN"}, // Tunisia
	{"TO", "TON"}, // Tonga
	{"TR", "TUR"}, // Turkey
	{"TT", "TTO"}, // Trinidad & Tobago
	{"TV", "TUV"}, // Tuvalu
	{"TW", "TWN"}, // Taiwan
	{"TZ", "TZA"}, // Tanzania
	{"UA", "UKR"}, // Ukraine
	{"UG", "UGA"}, // Uganda
	{"UM", "UMI"}, // US minor outlying islands
	{"US", "USA"}, // United States
	{"UY", "URY"}, // Uruguay
	{"UZ", "UZB"}, // Uzbekistan
	{"VA", "VAT"}, // Vatican City
	{"VC", "VCT"}, // St Vincent
	{"VE", "VEN"}, // Venezuela
	{"VG", "VGB"}, // Virgin Islands (UK)
	{"VI", "VIR"}, // Virgin Islands (US)
	{"VN", "VNM"}, // Vietnam
	{"VU", "VUT"}, // Vanuatu
	{"WF", "WLF"}, // Wallis & Futuna
	{"WS", "WSM"}, // Samoa (western)
	{"YE", "YEM"}, // Yemen
	{"YT", "MYT"}, // Mayotte
	{"ZA", "ZAF"}, // South Africa
	{"ZM", "ZMB"}, // Zambia
	{"ZW", "ZWE"}, // Zimbabwe
}

var (
	countryOnce    sync.Once
	alpha2ToAlpha3 map[string]string
	alpha3ToAlpha2 map[string]string
)

func countryMaps() (map[string]string, map[string]string) {
	countryOnce.Do(func() {
		alpha2ToAlpha3 = make(map[string]string, len(countries))
		alpha3ToAlpha2 = make(map[string]string, len(countries))
		for _, c := range countries {
			alpha2ToAlpha3[c.alpha2] = c.alpha3
			alpha3ToAlpha2[c.alpha3] = c.alpha2
		}
	})
	return alpha2ToAlpha3, alpha3ToAlpha2
}

// ValidCountryAlpha2 reports whether s is an officially assigned ISO 3166-1
// alpha-2 code in upper case, e.g. "NL" (OCPI country_code).
func ValidCountryAlpha2(s string) bool {
	_, ok := CountryAlpha3(s)
	return ok
}

// ValidCountryAlpha3 reports whether s is an officially assigned ISO 3166-1
// alpha-3 code in upper case, e.g. "NLD" (OCPI Location.country).
func ValidCountryAlpha3(s string) bool {
	_, ok := CountryAlpha2(s)
	return ok
}

// CountryAlpha3 returns the alpha-3 code of an upper-case alpha-2 code.
func CountryAlpha3(alpha2 string) (string, bool) {
	a2, _ := countryMaps()
	a3, ok := a2[alpha2]
	return a3, ok
}

// CountryAlpha2 returns the alpha-2 code of an upper-case alpha-3 code.
func CountryAlpha2(alpha3 string) (string, bool) {
	_, a3 := countryMaps()
	a2, ok := a3[alpha3]
	return a2, ok
}
