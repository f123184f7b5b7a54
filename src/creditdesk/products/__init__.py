"""creditdesk.products"""
