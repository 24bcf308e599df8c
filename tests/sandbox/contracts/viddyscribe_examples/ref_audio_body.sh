curl --request POST \
  --url https://api.viddyscribe.com/enterprise/api/generate_ad_audio \
  --header 'Content-Type: application/json' \
  --header 'X-API-Key: <api-key>' \
  --data '
{
  "input": {
    "type": "media_id",
    "media_id": "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    "filename": "<string>"
  },
  "generation_config": {
    "format": "json",
    "language": "en-US",
    "video_category": "Auto",
    "voice": "Achernar",
    "custom_instructions": "",
    "auto_fit": true,
    "allow_descriptions_over_music": true,
    "volume_option": "auto",
    "volume_level_db": -5,
    "audio_track_type": "mixed",
    "description_content": "<string>"
  }
}
'
