"""creditdesk.ledger"""
