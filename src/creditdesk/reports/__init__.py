"""creditdesk.reports"""
