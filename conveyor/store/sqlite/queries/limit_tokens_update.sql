UPDATE conveyor_limits SET tokens = :tokens, tokens_at = :now WHERE scope = :scope AND key = :key
