"""en-GB dates and times as GOV.UK writes them; Django falls back to its own en_GB for the rest.

``{{ day|date }}`` reads "3 March 2026"; tables use ``{{ day|date:"SHORT_DATE_FORMAT" }}``,
"3 Mar 2026". Times are on the 24-hour clock ("14:30"): unambiguous, and Django's "a"
format would print "p.m." rather than GOV.UK's "2:30pm".
"""

DATE_FORMAT = "j F Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "j F"
YEAR_MONTH_FORMAT = "F Y"
FIRST_DAY_OF_WEEK = 1  # Monday
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
# What people type into a date box, day first.
DATE_INPUT_FORMATS = [
    "%Y-%m-%d",  # 2026-03-03, what <input type="date"> sends
    "%d/%m/%Y",  # 03/03/2026
    "%d/%m/%y",  # 03/03/26
    "%d %B %Y",  # 3 March 2026
    "%d %b %Y",  # 3 Mar 2026
]
