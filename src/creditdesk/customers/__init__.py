"""Customers' personal data, kept apart from the books.

The books know a customer by ``customer_id`` and a few modelling attributes (region,
time zone, consents). Name, phone and ID number live in their own table,
``customer_pii`` (:mod:`creditdesk.customers.pii`), shown masked by default; seeing a
value in clear is a separate, audited act.

>>> mask_phone("+8613912345678")
'+86 139****5678'
"""

from creditdesk.customers.pii import (
    PII_FIELDS,
    PII_SCHEMA,
    customer_contact,
    ensure_pii_table,
    mask_id_number,
    mask_name,
    mask_phone,
    reveal_pii,
    upsert_pii,
)

__all__ = ["PII_FIELDS", "PII_SCHEMA", "customer_contact", "ensure_pii_table", "mask_id_number",
           "mask_name", "mask_phone", "reveal_pii", "upsert_pii"]
