"""creditdesk.store"""
