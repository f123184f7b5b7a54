"""creditdesk.compliance"""
