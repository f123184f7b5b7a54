"""creditdesk.risk"""
