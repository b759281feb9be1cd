package scan

// luhn reports whether the digits pass the Luhn check that every payment
// card number carries.
func luhn(digits []byte) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return len(digits) > 0 && sum%10 == 0
}

// ibanValid reports whether a compact upper-case IBAN passes the ISO 13616
// mod-97 check: the first four characters moved to the end, letters
// replaced by 10..35, the number modulo 97 is 1.
func ibanValid(iban []byte) bool {
	if len(iban) < 15 || len(iban) > 34 {
		return false
	}
	if n, ok := ibanLengths[string(iban[:2])]; ok && n != len(iban) {
		return false
	}
	rem := 0
	for i := range iban {
		c := iban[(i+4)%len(iban)]
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// ibanLengths is the IBAN length of the countries that use it most; other
// country codes are accepted with any length from 15 to 34.
var ibanLengths = map[string]int{
	"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
	"EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
	"IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
	"NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
	"AE": 23, "SA": 24, "IL": 23, "BR": 29, "UA": 29,
}

// ssnValid reports whether area-group-serial can be a US SSN: the SSA never
// issues area 000, 666 or 900-999, group 00 or serial 0000.
func ssnValid(area, group, serial []byte) bool {
	a := string(area)
	if a == "000" || a == "666" || a[0] == '9' {
		return false
	}
	return string(group) != "00" && string(serial) != "0000"
}
