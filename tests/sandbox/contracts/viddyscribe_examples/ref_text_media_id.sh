curl --request POST \
  --url https://api.viddyscribe.com/enterprise/api/generate_ad_text \
  --header 'Content-Type: application/json' \
  --header 'X-API-Key: <api-key>' \
  --data '
{
  "input": {
    "type": "media_id",
    "media_id": "550e8400-e29b-41d4-a716-446655440000"
  },
  "generation_config": {
    "language": "en-US",
    "format": "json",
    "ad_type": "extended_ad"
  }
}
'
