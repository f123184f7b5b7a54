"""creditdesk.products: the product catalogue and the pure calculators.

* :mod:`~creditdesk.products.catalogue` — product terms as validated TOML;
* :mod:`~creditdesk.products.schedules` — cash-loan and instalment-conversion
  schedules, scalar and vectorised over a book;
* :mod:`~creditdesk.products.revolving` — statement, minimum due, interest-free
  period, daily interest and penalty of revolving credit;
* :mod:`~creditdesk.products.dates` — month arithmetic, bill and due dates.

Nothing here does I/O except reading a catalogue file, and nothing prints.

>>> from datetime import date
>>> s = cash_loan_schedule(1_000_000, 12, "0.0004", "equal_instalment", date(2024, 1, 15))
>>> s[0].total, sum(i.principal for i in s)
(89975, 1000000)
"""

from __future__ import annotations

from creditdesk.products.catalogue import (
    METHODS,
    CashLoanProduct,
    Catalogue,
    Product,
    RevolvingProduct,
    catalogue_from_dict,
    default_catalogue,
    load_catalogue,
    parse_catalogue,
)
from creditdesk.products.dates import add_months, due_date_for, next_bill_date
from creditdesk.products.revolving import (
    Statement,
    interest_free,
    revolving_interest_for_day,
    revolving_penalty_for_day,
    revolving_statement,
)
from creditdesk.products.schedules import (
    ConversionTerm,
    Instalment,
    annuity_payment,
    cash_loan_schedule,
    conversion_frame,
    conversion_schedule,
    schedule_frame,
)

__all__ = [
    "METHODS",
    "CashLoanProduct",
    "Catalogue",
    "ConversionTerm",
    "Instalment",
    "Product",
    "RevolvingProduct",
    "Statement",
    "add_months",
    "annuity_payment",
    "cash_loan_schedule",
    "catalogue_from_dict",
    "conversion_frame",
    "conversion_schedule",
    "default_catalogue",
    "due_date_for",
    "interest_free",
    "load_catalogue",
    "next_bill_date",
    "parse_catalogue",
    "revolving_interest_for_day",
    "revolving_penalty_for_day",
    "revolving_statement",
    "schedule_frame",
]
