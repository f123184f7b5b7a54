"""creditdesk.datasets"""
