UPDATE conveyor_limits SET tokens = %(tokens)s, tokens_at = %(now)s WHERE scope = %(scope)s AND key = %(key)s
