curl -X POST https://api.viddyscribe.com/enterprise/api/generate_ad_audio \
  -H "X-API-Key: vsk_your_api_key_here" \
  -H "Content-Type: application/json" \
  -d '{
    "input": {
      "type": "url",
      "url": "https://example.com/video.mp4"
    },
    "generation_config": {
      "language": "en-US",
      "voice": "Achernar",
      "format": "vtt",
      "custom_instructions": "Keep descriptions concise and focus on on-screen text."
    }
  }'
