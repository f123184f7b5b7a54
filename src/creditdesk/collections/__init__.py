"""creditdesk.collections"""
