curl -X GET "https://api.viddyscribe.com/enterprise/api/get_results?job_id=task_abc123xyz" \
  -H "X-API-Key: vsk_your_api_key_here"
