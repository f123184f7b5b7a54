"""creditdesk.simulate"""
