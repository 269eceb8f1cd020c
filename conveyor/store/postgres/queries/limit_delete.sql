DELETE FROM conveyor_limits WHERE scope = %(scope)s AND key = %(key)s
